"""Security headers on every response: no sniffing, no framing, no referrer, and a CSP the pages pass.

The pages are server-rendered HTML with the site's own stylesheets, inline SVG and ``style``
attributes for plot colours, and no script at all; the policy allows exactly that. FastAPI's API docs
(``/docs``, ``/redoc``) load their script from a CDN and get every header but the CSP.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
API_DOCS = ("/docs", "/redoc")


class SecurityHeaders:
    """Pure ASGI middleware: adds ``HEADERS`` (and the CSP, but on the API docs) to each response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_csp = not scope.get("path", "").startswith(API_DOCS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if with_csp:
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)
