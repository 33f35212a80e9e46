"""uvicorn's h11 protocol with a deadline for request headers.

uvicorn times out idle keep-alive connections, but not a client that opens a connection and sends
its request line and headers slowly (or never): each such client holds a connection for as long
as it likes. ``header_timeout_protocol(seconds)`` returns a protocol class for ``uvicorn.run(...,
http=...)`` that closes a connection whose request headers are not complete ``seconds`` after it
opened, or after the previous response on it. The body has its own deadline in the app
(``body_timeout_s``, answered with a 408).
"""

from __future__ import annotations

from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["header_timeout_protocol"]


class _HeaderDeadline(H11Protocol):
    header_timeout_s = 10.0
    _header_timer: Any = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.logger.info("closing a connection whose request headers took over %.1f s", self.header_timeout_s)
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """A uvicorn ``http`` protocol class that drops connections slow to send their headers."""
    return type("HeaderDeadlineH11Protocol", (_HeaderDeadline,), {"header_timeout_s": float(seconds)})
