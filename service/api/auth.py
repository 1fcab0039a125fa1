"""Who may write: bearer tokens from KILN_API_TOKENS, or (when none are configured) loopback clients.

The identity returned is what jobs are owned by and what per-owner limits count: a short hash of
the token (tokens themselves are never stored), or ``loopback``. ``writer`` decides it from the
``Authorization`` header and the client's address alone, so that ``service.api.guard`` refuses an
unauthorised write before reading its body; ``writer_identity`` is the same rule as a dependency.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from fastapi import Depends, HTTPException, Request, status

from service.settings import Settings
from service.state import app_settings


def token_owner(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def writer_identity(request: Request, settings: Settings = Depends(app_settings)) -> str:
    """FastAPI dependency for write endpoints; raises 401/403 with the reason (async: no thread hop, so a
    burst of refused writes costs no request threads)."""
    client = request.client.host if request.client else None
    return writer(request.headers.get("authorization", ""), client, settings.api_tokens)


def writer(authorization: str, client: str | None, tokens: frozenset[str]) -> str:
    """The writer's identity from the ``Authorization`` header and the client address; ``HTTPException``
    401 (no or an unknown bearer token, when ``tokens`` are configured) or 403 (no tokens configured and
    a client that is not on loopback)."""
    scheme, _, token = authorization.partition(" ")
    if tokens:
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "this endpoint needs 'Authorization: Bearer <token>' (a token listed in KILN_API_TOKENS)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "unknown bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return token_owner(token)
    if not _is_loopback(client):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "writes are accepted only from loopback clients while KILN_API_TOKENS is unset; "
            "set KILN_API_TOKENS on the server and send a bearer token",
        )
    return "loopback"
