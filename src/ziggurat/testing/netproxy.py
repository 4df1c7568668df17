"""A user-space HTTP proxy on loopback: round-trip latency, a bandwidth cap, counters and faults.

This kernel has no ``tc netem``, so tests and ``bench/remote.py`` put this in front of a local S3
server (moto) to see what a client does over a real network: ``latency`` seconds are added to
every request's round trip, response bodies are paced to ``bandwidth`` bytes/s (shared by all
connections, like one link), and every request and response byte is counted. Faults are queued:
``fail(n)`` answers the next n requests with 503 SlowDown, ``cut(n)`` sends half a response body and
closes the connection, ``delay(n, s)`` holds the next n requests back.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

SLOWDOWN = (
    b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {n}\r\nConnection: keep-alive\r\n\r\n"
)
SLOWDOWN_BODY = (
    b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)


@dataclass
class Faults:
    fail: int = 0
    fail_after: int = 0  # requests passed through before the queued failures start
    cut: int = 0
    delay: int = 0
    delay_seconds: float = 0.0


@dataclass
class Stats:
    """What went through: requests by method, response body bytes, faults injected."""

    requests: Counter[str] = field(default_factory=Counter)
    body_bytes: int = 0
    injected: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def gets(self) -> int:
        return self.requests["GET"]


class _Pacer:
    """One link's bandwidth: senders wait for their turn on a shared clock."""

    def __init__(self, bandwidth: float | None) -> None:
        self.bandwidth = bandwidth
        self._free_at = 0.0
        self._lock = threading.Lock()

    def wait(self, nbytes: int) -> None:
        if not self.bandwidth:
            return
        with self._lock:
            now = time.perf_counter()
            start = max(now, self._free_at)
            self._free_at = start + nbytes / self.bandwidth
            until = self._free_at
        delay = until - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


class NetProxy:
    """``with NetProxy(upstream_port, latency=0.02, bandwidth=100e6) as proxy: proxy.url``."""

    def __init__(self, upstream_port: int, *, latency: float = 0.0, bandwidth: float | None = None,
                 upstream_host: str = "127.0.0.1") -> None:  # fmt: skip
        self.upstream = (upstream_host, upstream_port)
        self.latency = latency
        self.stats = Stats()
        self._faults = Faults()
        self._pacer = _Pacer(bandwidth)
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="zig-netproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NetProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closed = True
        self._server.close()

    def __enter__(self) -> NetProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and counters --------------------------------------------------------------
    def fail(self, n: int = 1, *, after: int = 0) -> None:
        """Answer the next ``n`` requests (after letting ``after`` through) with 503 SlowDown."""
        with self._lock:
            self._faults.fail += n
            self._faults.fail_after = after

    def cut(self, n: int = 1) -> None:
        """Send only half of the next ``n`` response bodies, then close the connection."""
        with self._lock:
            self._faults.cut += n

    def delay(self, n: int, seconds: float) -> None:
        """Hold the next ``n`` requests back by ``seconds`` each."""
        with self._lock:
            self._faults.delay += n
            self._faults.delay_seconds = seconds

    def reset(self) -> Stats:
        """The counters so far; counting starts again from zero, with no fault queued."""
        with self._lock:
            stats, self.stats, self._faults = self.stats, Stats(), Faults()
        return stats

    def _take(self, name: str) -> bool:
        with self._lock:
            if name == "fail" and self._faults.fail and self._faults.fail_after > 0:
                self._faults.fail_after -= 1
                return False
            if getattr(self._faults, name) > 0:
                setattr(self._faults, name, getattr(self._faults, name) - 1)
                self.stats.injected[name] += 1
                return True
        return False

    # -- the proxy ------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        upstream_reader: object = None
        reader = client.makefile("rb")
        try:
            while True:
                request = _read_message(reader, request=True)
                if request is None:
                    return
                head, body = request
                method = head.split(b" ", 1)[0].decode()
                with self._lock:
                    self.stats.requests[method] += 1
                if self._take("delay"):
                    time.sleep(self._faults.delay_seconds)
                if self.latency:
                    time.sleep(self.latency)
                if self._take("fail"):
                    client.sendall(SLOWDOWN.replace(b"{n}", str(len(SLOWDOWN_BODY)).encode()) + SLOWDOWN_BODY)
                    continue
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                    upstream_reader = upstream.makefile("rb")
                upstream.sendall(head + body)
                response = _read_message(upstream_reader, request=False, method=method)
                if response is None:
                    return
                rhead, rbody = response
                with self._lock:
                    self.stats.body_bytes += len(rbody)
                client.sendall(rhead)
                if self._take("cut"):
                    client.sendall(rbody[: len(rbody) // 2])
                    return
                for start in range(0, len(rbody), 256 * 1024):
                    piece = rbody[start : start + 256 * 1024]
                    self._pacer.wait(len(piece))
                    client.sendall(piece)
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _read_message(reader: object, *, request: bool, method: str = "GET") -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 message (head, body) from a buffered socket reader; None at end of stream."""
    lines = []
    while True:
        line = reader.readline(65537)  # type: ignore[attr-defined]
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            if len(lines) == 1:  # a stray blank line between messages
                lines.clear()
                continue
            break
    head = b"".join(lines)
    headers = {}
    for line in lines[1:-1]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    status = b"" if request else lines[0].split(b" ", 2)[1]
    if not request and (method == "HEAD" or status in (b"204", b"304") or status.startswith(b"1")):
        return head, b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size_line = reader.readline()  # type: ignore[attr-defined]
            chunks.append(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers up to the blank line
                    trailer = reader.readline()  # type: ignore[attr-defined]
                    chunks.append(trailer)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                return head, b"".join(chunks)
            chunks.append(reader.read(size + 2))  # type: ignore[attr-defined]
    length = int(headers.get("content-length", "0"))
    return head, reader.read(length) if length else b""  # type: ignore[attr-defined]
