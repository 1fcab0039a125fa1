"""``Refused``: what the service layer raises when it will not do what was asked (a 4xx or a 503).

The service functions (``service/jobs.py``, ``service/verification.py``) know nothing of HTTP routes;
the app turns a ``Refused`` into the same JSON answer FastAPI gives an ``HTTPException``:
``{"detail": message}`` with the status and headers (``Retry-After``).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class Refused(Exception):
    """The request is refused with ``status_code`` and ``detail``; ``headers`` go with the answer."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers


async def refused_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
