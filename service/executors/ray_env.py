"""What a Ray driver or node needs before ``ray`` is imported: whether Ray is installed, the loopback
environment, the authentication token, and the resource name verifying workers are counted by.

Nothing here imports ray (Ray reads these variables when it is imported)."""

from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path

RESOURCE = "kiln_verify"
"""The custom resource a CPU node offers for verifying workers (``ray start --resources '{"kiln_verify": 2}'``)."""


def ray_missing() -> str | None:
    """Why the ray executor cannot be used here, or None."""
    if importlib.util.find_spec("ray") is None:
        return "the ray executor needs Ray: pip install 'kernelkiln[ray]'"
    return None


def loopback_environment() -> dict[str, str]:
    """Environment for a Ray node or driver bound to 127.0.0.1 only. Ray replaces a loopback node
    address with the machine's interface address unless its cluster mode is off; with it off, every
    Ray server listens on 127.0.0.1. Ray reads these when it is imported: set them before."""
    return {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "token"),
    }


def auth_token_configured() -> bool:
    """Whether this host has a Ray authentication token (variable or ``~/.ray/auth_token``)."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return True
    return (Path.home() / ".ray" / "auth_token").exists()


def ensure_auth_token() -> None:
    """Ray's token authentication needs a token before any node starts (Ray's own ``ray.init()``
    writes one; a ``Cluster`` does not, and a node without one aborts its process). Where none is
    configured, write one as Ray would: 64 hex digits in ``~/.ray/auth_token``, readable by its owner."""
    if auth_token_configured():
        return
    path = Path.home() / ".ray" / "auth_token"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
