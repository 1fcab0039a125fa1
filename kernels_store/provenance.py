"""Where a stored verdict came from: verified by this deployment, or imported from a bundle.

Only verdicts this deployment produced (``verified``) count: for the leaderboard, fast_p, the verify
cache and ``kiln regress``'s baselines. An ``imported`` verdict is another store's claim, kept and
shown as "imported, not verified here" until this deployment verifies the kernel itself
(``kiln store import --verify`` or ``kiln regress``), which records a ``verified`` row beside it (or
over it, in the same environment).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import metadata
from typing import Any

from kernels_store.models import PROVENANCES

VERIFIED, IMPORTED = PROVENANCES
IMPORTED_LABEL = "imported, not verified here"


@cache
def verifier_version() -> str:
    """The installed Kernel Kiln version (the verifier ships with it); ``unknown`` when not installed."""
    try:
        return metadata.version("kernelkiln")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Provenance:
    """A verification row's origin, as its columns (``provenance``, ``verified_host``...)."""

    kind: str = VERIFIED
    host: str = ""
    """The host that verified (``verified``)."""
    version: str = ""
    """The verifier version that verified (``verified``)."""
    bundle: str = ""
    """The bundle it came from (``imported``)."""
    imported_at: datetime | None = None

    @classmethod
    def here(cls, host: str | None = None) -> Provenance:
        """Verified by this deployment with this verifier, on ``host`` (a cluster worker's, from the
        report's placement) or else this one."""
        return cls(VERIFIED, host=(host or socket.gethostname())[:200], version=verifier_version()[:64])

    @classmethod
    def of_report(cls, report: Mapping[str, Any]) -> Provenance:
        """``here``, on the host the report's ``placement`` names (a Ray worker's), if it names one."""
        placement = report.get("placement")
        host = placement.get("hostname") if isinstance(placement, Mapping) else None
        return cls.here(host if isinstance(host, str) and host else None)

    @classmethod
    def imported(cls, bundle: str, at: datetime) -> Provenance:
        return cls(IMPORTED, bundle=bundle[:300], imported_at=at)

    def columns(self) -> dict[str, Any]:
        return {
            "provenance": self.kind,
            "verified_host": self.host,
            "verifier_version": self.version,
            "imported_from": self.bundle,
            "imported_at": self.imported_at,
        }
