"""uvicorn's httptools protocol with a deadline for each request's headers and one for its body.

uvicorn has a keep-alive timeout (idle between requests) but none while a request arrives: a
client that sends one header byte a second (slowloris), or a body that never ends, holds its
connection, and one of the ``limit_concurrency`` slots, for ever. Decision: a small protocol
subclass rather than an asyncio watchdog task per connection, because the parser's callbacks
already mark every phase (first byte, headers complete, message complete), so one timer handle
per connection is enough and nothing polls. The header deadline runs from the connection (or
the next request's first byte after a keep-alive idle) to the end of the headers; the body
deadline from there to the end of the body; both are totals, not idle times, so trickling bytes
does not extend them. On expiry the connection is closed, after a ``408 Request Timeout`` when
part of a request has arrived and no response has started (a connection that sent nothing, like a
browser's spare one, is closed silently).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .limits import DEFAULT, Limits

TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedHttpProtocol(HttpToolsProtocol):
    """Takes its deadlines from ``config.limits`` (a :class:`.limits.Limits`; see :mod:`.supervisor`)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:  # fmt: skip
        super().__init__(config, server_state, app_state, _loop)
        limits: Limits = getattr(config, "limits", DEFAULT)
        self.header_timeout = limits.header_timeout
        self.body_timeout = limits.body_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._receiving = False  # between a request's first byte and its end

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if self._receiving and not answering:  # never to a connection that sent nothing: a client
            self.transport.write(TIMED_OUT)  # sending its request just then would read it as the answer
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)  # a connection that never sends is a request that never ends

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._receiving = True
        if self._deadline is None:  # the first byte after a keep-alive idle; a new connection is armed already
            self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout)  # cancelled at once by on_message_complete when there is no body
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._receiving = False
        super().on_message_complete()
