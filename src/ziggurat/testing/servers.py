"""Throwaway local memcached / redis-server processes on free loopback ports.

For tests, benchmarks and demos: ``with LocalServer("redis") as server: open_cache(server.url)``.
``stop()`` and ``start()`` keep the port, so a client can watch the server go and come back;
``pause()`` freezes it, so requests time out instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..errors import BackendUnavailableError
from ..server import lifetime

COMMANDS = {
    "memcached": ["memcached", "-l", "127.0.0.1", "-p", "{port}", "-U", "0", "-m", "256", "-I", "16m", "-u", "root"],
    "redis": ["redis-server", "--bind", "127.0.0.1", "--port", "{port}", "--save", "", "--appendonly", "no"],
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """One memcached or redis-server child process."""

    def __init__(self, kind: str, port: int | None = None, die_with_parent: bool = False) -> None:
        if shutil.which(COMMANDS[kind][0]) is None:
            raise BackendUnavailableError(f"{COMMANDS[kind][0]} is not installed (scripts/setup installs it)")
        self.kind = kind
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.die_with_parent = die_with_parent  # Linux SIGKILLs it when we die (start it on the main thread)

    @property
    def url(self) -> str:
        if self.kind == "memcached":  # the server runs with -I 16m, so the client may send that much
            return f"memcached://127.0.0.1:{self.port}?max_item=16MiB"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> LocalServer:
        argv = [a.format(port=self.port) for a in COMMANDS[self.kind]]
        preexec = functools.partial(lifetime.die_with_parent, os.getpid()) if self.die_with_parent else None
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start on port {self.port}")

    def pause(self, paused: bool = True) -> None:
        """Freeze (SIGSTOP) or thaw (SIGCONT) the server: connections hang instead of failing.

        Returns once the kernel reports the new state: a signal is delivered asynchronously, and a
        request sent in between would still be answered."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)
        status = Path(f"/proc/{self._process.pid}/status")
        deadline = time.monotonic() + 2.0
        while status.exists() and time.monotonic() < deadline:
            state = next((line for line in status.read_text().splitlines() if line.startswith("State:")), "")
            if ("(stopped)" in state) == paused:
                return
            time.sleep(0.005)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServeProcess:
    """``ziggurat serve ARGS --port P`` in a child process, ready once ``/api/images`` answers.

    ``with ServeProcess([...]) as served:`` gives ``served.base`` (``http://127.0.0.1:P``); after
    the block, ``served.out`` and ``served.err`` hold what the server printed.
    """

    def __init__(self, args: list[str], timeout: float = 30.0) -> None:
        import sys

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.argv = [sys.executable, "-m", "ziggurat.cli", "serve", *args, "--port", str(self.port)]
        self.timeout = timeout
        self.out = self.err = ""

    def __enter__(self) -> ServeProcess:
        import urllib.error
        import urllib.request

        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/api/images?limit=1", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"ziggurat serve did not start: {self.err[-2000:]}") from None
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.out, self.err = self.process.communicate(timeout=30)
