"""``ziggurat serve`` always stops: SIGKILL of the supervisor takes its workers and private memcached
with it, and SIGTERM ends the server within a bounded time even with slow clients connected."""

from __future__ import annotations

import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ziggurat.testing.servers import ServeProcess

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def children(pid: int) -> dict[int, list[int]]:
    """Every live process's children, from /proc (zombies left out: they are dead, awaiting a reaper)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if state != "Z":
                tree.setdefault(int(ppid), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = children(pid), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    tree = children(0)
    living = {p for kids in tree.values() for p in kids}
    return pids & living


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition()`` held; fails after ``seconds``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, sample_slide: Path) -> Path:
    root = tmp_path_factory.mktemp("lifetime")
    shutil.copy(sample_slide, root / "a.tif")
    return root


@pytest.mark.skipif(shutil.which("memcached") is None, reason="memcached not installed (scripts/setup installs it)")
def test_sigkill_of_the_supervisor_takes_its_workers_and_memcached(folder: Path) -> None:
    with ServeProcess([str(folder), "--processes", "2"], timeout=60) as served:
        family = descendants(served.process.pid)
        names = {Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].rsplit(b"/", 1)[-1] for p in family}
        assert b"memcached" in names and len(family) >= 3, names  # two workers and the private memcached
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(5)
        took = wait_until(lambda: not alive(family) and port_is_free(served.port), 5.0)
    assert took < 5.0


@contextmanager
def slow_clients(port: int, path: str) -> Iterator[None]:
    """A slowloris (half a request line) and a client that asks for ~18 MB and never reads it."""
    loris = socket.create_connection(("127.0.0.1", port))
    loris.sendall(b"GET /api/ima")
    stuck = socket.create_connection(("127.0.0.1", port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    try:
        time.sleep(0.5)  # the big response is rendering, or blocked on the full socket
        yield
    finally:
        loris.close()
        stuck.close()


@pytest.mark.parametrize("processes", [1, 2])
def test_sigterm_stops_within_a_bounded_time_with_slow_clients(folder: Path, processes: int) -> None:
    argv = [str(folder), "--processes", str(processes), "--stop-timeout", "1", "--cache", "none://"]
    with ServeProcess(argv, timeout=60) as served:
        family = descendants(served.process.pid)
        ident = httpx.get(f"{served.base}/api/images").json()["items"][0]["id"]
        big = f"/api/images/{ident}/region?x=0&y=0&width=3000&height=2000&format=npy"
        assert httpx.head(served.base + big, timeout=30).headers["content-length"] == str(3000 * 2000 * 3 + 128)
        with slow_clients(served.port, big):
            start = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            served.process.wait(10)
            took = time.monotonic() - start
        assert took < 5.0
        wait_until(lambda: not alive(family) and port_is_free(served.port), 3.0)


STUCK_SERVER = """
import sys, time
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from ziggurat.server.limits import Limits
from ziggurat.server.supervisor import ServeConfig, run

async def stuck(request):  # a blocking call on the event loop (a hung NFS stat, say): nothing else runs
    time.sleep(60)
    return PlainTextResponse("late")

async def ok(request):
    return PlainTextResponse("ok")

app = Starlette(routes=[Route("/stuck", stuck), Route("/ok", ok)])
run(ServeConfig(app, Limits(stop_timeout=0.5), port=int(sys.argv[1]), log_level="error"))
"""


def test_sigterm_ends_a_process_whose_event_loop_is_stuck() -> None:
    import subprocess
    import sys
    import threading
    import urllib.request

    from ziggurat.testing.servers import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", STUCK_SERVER, str(port)])
    try:
        wait_until(lambda: not port_is_free(port), 30.0)
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/ok", timeout=5).text == "ok", 10.0)
        threading.Thread(target=lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/stuck", timeout=60),
                         daemon=True).start()  # fmt: skip
        time.sleep(0.3)
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 1  # ended by the watchdog, 0.5 s + 1 s after the signal
        assert time.monotonic() - start < 4.0
    finally:
        server.kill()
        server.wait()
