"""The server's limits for slow, idle or too many clients and for stopping (defaults of ``ziggurat serve``).

Kept free of uvicorn and starlette imports: the CLI reads the defaults when it builds its parser.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Seconds and counts; see docs/reliability.md (the server section) for why each exists."""

    header_timeout: float = 10.0  # a request's headers must arrive within this, else 408
    body_timeout: float = 30.0  # and its body within this after the headers
    keep_alive: float = 5.0  # an idle keep-alive connection is closed after this
    max_connections: int = 1000  # per process; a request beyond them is a 503 (uvicorn's limit_concurrency)
    backlog: int = 2048  # connections the kernel queues before they are accepted
    stop_timeout: float = 3.0  # on SIGTERM, in-flight responses get this long, then are cut


DEFAULT = Limits()
