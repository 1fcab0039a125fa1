"""Service settings, read once from the environment (documented in docs/configuration.md)."""

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


def _bool(name: str) -> bool | None:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0, not {raw!r}")


def default_max_body_bytes(max_source_bytes: int) -> int:
    """Room for two sources of the largest size, JSON-escaped, plus the other fields."""
    return 4 * max_source_bytes + 64 * 1024


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    """None: the store's default (a SQLite file)."""
    api_tokens: frozenset[str] = field(default_factory=frozenset)
    """Bearer tokens that may write; empty: writes are accepted from loopback clients only."""
    max_source_bytes: int = 256 * 1024
    max_body_bytes: int | None = None
    """Largest request body, refused with 413 before it is parsed; None: ``default_max_body_bytes``."""
    max_budget: int = 64
    max_active_jobs_per_owner: int = 4
    workers: int = 1
    """Embedded job-runner threads (each verification still runs in sandbox processes)."""
    verify_concurrency: int = 2
    """Simultaneous POST /v1/verify verifications (threads of their own, never request threads)."""
    verify_queue: int = 8
    """Verifications that may wait for a slot; when that many wait, POST /v1/verify answers 503 at once."""
    verify_per_owner: int = 2
    """Verifications one token (or all loopback clients together) may have waiting or running (429 beyond)."""
    lease_seconds: int = 60
    device: str = "auto"
    timeout_s: float = 180.0
    sandbox: str = "auto"
    """The verifier's sandbox for every verification (``KILN_SANDBOX``: auto, docker, bwrap, unshare)."""
    sandbox_image: str | None = None
    """Worker image of the docker sandbox (``KILN_SANDBOX_IMAGE``)."""
    public_url: str | None = None
    """Absolute base URL for links in responses (``https://kiln.example.org``); None: links are relative."""
    auto_migrate: bool | None = None
    """Migrate the store on start: None (default) SQLite only, True also PostgreSQL, False never."""
    executor: str = "local"
    """Where jobs' candidates are verified (``KILN_EXECUTOR``): ``local`` sandbox processes, or ``ray``."""
    ray_address: str | None = None
    """The Ray head the ``ray`` executor joins (``KILN_RAY_ADDRESS``, e.g. ``10.0.0.5:6379``); None: ``auto``."""
    llm_model: str | None = None
    """The llm proposer's model when a job names none (``KILN_LLM_MODEL``, read by ``agents.default_model``)."""
    body_timeout_s: int = 30
    """Seconds a client has to send a request body (``KILN_BODY_TIMEOUT_S``); slower is 408."""
    sse_per_client: int = 8
    """Open event streams one client address may hold (``KILN_SSE_PER_CLIENT``); 429 beyond."""
    sse_streams: int = 256
    """Open event streams in all (``KILN_SSE_STREAMS``); 503 beyond."""

    @property
    def body_limit(self) -> int:
        return self.max_body_bytes or default_max_body_bytes(self.max_source_bytes)

    @classmethod
    def from_env(cls) -> Settings:
        from agents.types import default_model

        tokens = frozenset(t.strip() for t in os.environ.get("KILN_API_TOKENS", "").split(",") if t.strip())
        device = os.environ.get("KILN_DEVICE", "auto")
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"KILN_DEVICE must be auto, cpu or cuda, not {device!r}")
        sandbox = os.environ.get("KILN_SANDBOX", "auto")
        if sandbox not in ("auto", "docker", "bwrap", "unshare"):
            raise ValueError(f"KILN_SANDBOX must be auto, docker, bwrap or unshare, not {sandbox!r}")
        public_url = (os.environ.get("KILN_PUBLIC_URL") or "").strip().rstrip("/") or None
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise ValueError(f"KILN_PUBLIC_URL must start with http:// or https://, not {public_url!r}")
        max_source = _int("KILN_MAX_SOURCE_BYTES", cls.max_source_bytes)
        executor = os.environ.get("KILN_EXECUTOR", "local").strip() or "local"
        if executor not in ("local", "ray"):
            raise ValueError(f"KILN_EXECUTOR must be local or ray, not {executor!r}")
        return cls(
            database_url=os.environ.get("KILN_DATABASE_URL") or None,
            api_tokens=tokens,
            max_source_bytes=max_source,
            max_body_bytes=_int("KILN_MAX_BODY_BYTES", default_max_body_bytes(max_source)),
            max_budget=_int("KILN_MAX_BUDGET", cls.max_budget),
            max_active_jobs_per_owner=_int("KILN_MAX_ACTIVE_JOBS", cls.max_active_jobs_per_owner),
            workers=_int("KILN_WORKERS", cls.workers, minimum=0),
            verify_concurrency=_int("KILN_VERIFY_CONCURRENCY", cls.verify_concurrency),
            verify_queue=_int("KILN_VERIFY_QUEUE", cls.verify_queue, minimum=0),
            verify_per_owner=_int("KILN_VERIFY_PER_TOKEN", cls.verify_per_owner),
            lease_seconds=_int("KILN_LEASE_SECONDS", cls.lease_seconds, minimum=5),
            device=device,
            timeout_s=float(_int("KILN_TIMEOUT_S", int(cls.timeout_s))),
            sandbox=sandbox,
            sandbox_image=os.environ.get("KILN_SANDBOX_IMAGE") or None,
            public_url=public_url,
            auto_migrate=_bool("KILN_AUTO_MIGRATE"),
            executor=executor,
            ray_address=(os.environ.get("KILN_RAY_ADDRESS") or "").strip() or None,
            llm_model=default_model(),
            body_timeout_s=_int("KILN_BODY_TIMEOUT_S", cls.body_timeout_s),
            sse_per_client=_int("KILN_SSE_PER_CLIENT", cls.sse_per_client),
            sse_streams=_int("KILN_SSE_STREAMS", cls.sse_streams),
        )
