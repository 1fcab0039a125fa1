"""Service settings, read once from the environment (documented in README.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    """None: the store's default (a SQLite file)."""
    api_tokens: frozenset[str] = field(default_factory=frozenset)
    """Bearer tokens that may write; empty: writes are accepted from loopback clients only."""
    max_source_bytes: int = 256 * 1024
    max_budget: int = 64
    max_active_jobs_per_owner: int = 4
    workers: int = 1
    """Embedded job-runner threads (each verification still runs in sandbox processes)."""
    verify_concurrency: int = 2
    """Simultaneous POST /v1/verify verifications."""
    lease_seconds: int = 60
    device: str = "auto"
    timeout_s: float = 180.0

    @classmethod
    def from_env(cls) -> Settings:
        tokens = frozenset(t.strip() for t in os.environ.get("KILN_API_TOKENS", "").split(",") if t.strip())
        device = os.environ.get("KILN_DEVICE", "auto")
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"KILN_DEVICE must be auto, cpu or cuda, not {device!r}")
        return cls(
            database_url=os.environ.get("KILN_DATABASE_URL") or None,
            api_tokens=tokens,
            max_source_bytes=_int("KILN_MAX_SOURCE_BYTES", cls.max_source_bytes),
            max_budget=_int("KILN_MAX_BUDGET", cls.max_budget),
            max_active_jobs_per_owner=_int("KILN_MAX_ACTIVE_JOBS", cls.max_active_jobs_per_owner),
            workers=_int("KILN_WORKERS", cls.workers, minimum=0),
            verify_concurrency=_int("KILN_VERIFY_CONCURRENCY", cls.verify_concurrency),
            lease_seconds=_int("KILN_LEASE_SECONDS", cls.lease_seconds, minimum=5),
            device=device,
            timeout_s=float(_int("KILN_TIMEOUT_S", int(cls.timeout_s))),
        )
