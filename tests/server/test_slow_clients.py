"""Slow, idle and too many clients, on raw sockets: the header and body deadlines, keep-alive, the
connection limit (503), while other clients keep getting answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ziggurat.server import create_app
from ziggurat.server.limits import Limits
from ziggurat.server.supervisor import ServeConfig
from ziggurat.server.thread import live_server

LIMITS = Limits(header_timeout=1.0, body_timeout=1.0, keep_alive=0.5, max_connections=4)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, sample_slide: Path) -> Iterator[str]:
    root = tmp_path_factory.mktemp("slow")
    (root / "a.tif").write_bytes(sample_slide.read_bytes())
    with live_server(create_app([root], cache="memory://"), limits=LIMITS) as url:
        yield url


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (a timeout of the socket fails the test)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def drip(sock: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Send ``data`` one byte every ``every`` seconds until it is sent, the peer closes or ``stop``."""
    for byte in data:
        if stop.wait(every):
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return


def test_a_slowloris_is_cut_at_the_header_deadline_while_others_are_answered(base: str) -> None:
    loris, stop = connect(base), threading.Event()
    request = b"GET /api/images HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    sender = threading.Thread(target=drip, args=(loris, request, 0.1, stop), daemon=True)
    start = time.monotonic()
    sender.start()
    try:
        with httpx.Client(timeout=10) as others:  # answered all along, on new and reused connections
            while time.monotonic() - start < 0.8:
                assert others.get(f"{base}/api/images").status_code == 200
        answer = read_all(loris)
        took = time.monotonic() - start
    finally:
        stop.set()
        loris.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 < took < 3.0  # cut at ~1 s, though a byte arrived every 0.1 s


def test_a_connection_that_never_sends_is_closed_silently(base: str) -> None:
    with connect(base) as idle:
        start = time.monotonic()
        assert read_all(idle) == b""  # no 408 a client could take for the answer to a request sent just then
        assert time.monotonic() - start < 3.0


def test_a_body_that_never_ends_is_cut_at_the_body_deadline(base: str) -> None:
    sock, stop = connect(base), threading.Event()
    sock.sendall(b"GET /api/images HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    start = time.monotonic()
    sender = threading.Thread(target=drip, args=(sock, b"b" * 1000, 0.1, stop), daemon=True)
    sender.start()
    try:
        read_all(sock)  # the listing may be answered; the connection still ends
        took = time.monotonic() - start
    finally:
        stop.set()
        sock.close()
    assert 0.9 < took < 3.0


def test_an_idle_keep_alive_connection_is_closed(base: str) -> None:
    with connect(base) as sock:
        sock.sendall(b"GET /api/images?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        start = time.monotonic()
        read_all(sock)  # no 408: the request was answered, the idle connection just closes
        assert time.monotonic() - start < 2.5


def ask(base: str) -> bytes:
    """The status line of one request on a new raw connection."""
    with connect(base) as sock:
        sock.sendall(b"GET /api/images?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_all(sock).split(b"\r\n", 1)[0]


def test_beyond_the_connection_limit_requests_get_503(base: str) -> None:
    """uvicorn counts the asking connection: with the limit at 4, 3 others open means a 503."""
    held = [connect(base) for _ in range(LIMITS.max_connections - 2)]
    try:
        time.sleep(0.1)  # accepted (they are idle, so the header deadline would close them after 1 s)
        assert ask(base) == b"HTTP/1.1 200 OK"
        held.append(connect(base))
        time.sleep(0.1)
        assert ask(base) == b"HTTP/1.1 503 Service Unavailable"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.1)
    assert ask(base) == b"HTTP/1.1 200 OK"  # and answered again once they are gone


def test_the_cli_limits_reach_uvicorn() -> None:
    config = ServeConfig("ziggurat.server.app:from_environment", Limits(2, 3, 4, 5, 6, 7), factory=True)
    assert (config.timeout_keep_alive, config.limit_concurrency, config.backlog) == (4, 5, 6)
    assert config.timeout_graceful_shutdown == 7 and config.limits.header_timeout == 2
