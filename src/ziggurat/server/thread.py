"""A real uvicorn server in a background thread: for tests, ``serve --check`` and notebooks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp

from .limits import DEFAULT, Limits
from .supervisor import ServeConfig


@contextmanager
def live_server(app: ASGIApp, host: str = "127.0.0.1", port: int = 0, limits: Limits = DEFAULT) -> Iterator[str]:
    """Serve ``app`` on ``host``:``port`` (0: a free one) with ``serve``'s protocol and ``limits``;
    yields the base URL, stops on exit."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    import uvicorn

    server = uvicorn.Server(ServeConfig(app, limits, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
