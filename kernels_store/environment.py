"""What makes two verifications of one candidate the same: hardware fingerprint and library versions.

A candidate is verified once per environment: the same ``hardware_fingerprint`` (the verifier's
``describe_host``: device model and size) and the same torch, triton and CUDA versions. The Python
version and the driver are recorded with each verification but do not make a new environment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Environment:
    hardware_fingerprint: str
    torch: str | None = None
    triton: str | None = None
    cuda: str | None = None

    @classmethod
    def from_mapping(cls, env: Mapping[str, Any]) -> Environment:
        """From a ``Report.environment`` dict (keys ``hardware_fingerprint``, ``torch``, ``triton``, ``cuda``)."""

        def text(key: str) -> str | None:
            value = env.get(key)
            return None if value is None else str(value)

        return cls(
            hardware_fingerprint=str(env.get("hardware_fingerprint") or ""),
            torch=text("torch"),
            triton=text("triton"),
            cuda=text("cuda"),
        )

    @property
    def key(self) -> str:
        """A stable 32-hex-digit identity of this environment (stored as ``environment_key``)."""
        canonical = json.dumps([self.hardware_fingerprint, self.torch, self.triton, self.cuda])
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def as_environment(env: Environment | Mapping[str, Any]) -> Environment:
    return env if isinstance(env, Environment) else Environment.from_mapping(env)
