"""Caps on open server-sent event streams: per client address and in all.

An event stream holds a connection and a polling task for as long as the client keeps it open, and
opening one costs nothing, so 1,500 idle streams from one client slowed every other request. A client
address may hold ``per_client`` streams (429 beyond) and the server ``total`` (503 beyond), both with
``Retry-After``. ``CappedEventStream`` gives its slot back however the stream ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from fastapi import HTTPException, status
from sse_starlette.sse import EventSourceResponse
from starlette.types import Receive, Scope, Send

RETRY_AFTER_S = "10"


class StreamSlots:
    """Counts open streams; used from the event loop only (no lock needed)."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self.open: Counter[str] = Counter()

    def take(self, client: str) -> Callable[[], None]:
        """A slot for ``client``, or ``HTTPException`` 429/503; returns the function that gives it back."""
        if sum(self.open.values()) >= self.total:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the server has {self.total} event streams open (KILN_SSE_STREAMS); retry later",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        if self.open[client] >= self.per_client:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"you have {self.per_client} event streams open (KILN_SSE_PER_CLIENT); close one first",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        self.open[client] += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self.open[client] -= 1
                if self.open[client] <= 0:
                    del self.open[client]

        return give_back


class CappedEventStream(EventSourceResponse):
    """An ``EventSourceResponse`` that calls ``release`` when it ends, however it ends."""

    def __init__(self, *args: object, release: Callable[[], None], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
