"""``python -m bench serve --faults``: ziggurat serve under wrk while its shared cache fails.

One run without a shared cache (``memory://``: the in-process tier alone, which every server
has in front of a shared one) is the reference. Then, for memcached and for redis, the same wrk
run over the same distinct DeepZoom tiles (a first request misses the in-process tier and asks
the shared one) while the cache server is killed, restarted, frozen (SIGSTOP) and thawed at fixed
fractions of the run. Target (issue 16): zero failed requests and a
p99 within 2x of the no-cache run — an outage costs at most one short timeout (0.25 s), then the
circuit breaker skips the cache until it answers again.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: (fraction of the run, what happens to the cache server)
SCHEDULE: tuple[tuple[float, str], ...] = ((0.15, "kill"), (0.35, "restart"), (0.55, "freeze"), (0.75, "thaw"))


def _faults_during(server: object, seconds: float, stop: threading.Event, log: list[str]) -> None:
    """Play SCHEDULE on ``server`` (a LocalServer) over a run of ``seconds``."""
    from ziggurat.testing.servers import LocalServer

    assert isinstance(server, LocalServer)
    actions: dict[str, Callable[[], object]] = {
        "kill": server.stop,
        "restart": server.start,
        "freeze": lambda: server.pause(True),
        "thaw": lambda: server.pause(False),
    }
    start = time.monotonic()
    for fraction, action in SCHEDULE:
        if stop.wait(max(0.0, start + fraction * seconds - time.monotonic())):
            return
        actions[action]()
        log.append(f"{action} at {time.monotonic() - start:.1f} s")


def faults(slide: Path, args: argparse.Namespace, workers: int) -> int:
    from ziggurat.testing.servers import LocalServer, free_port

    from .serve import running, servers, tile_paths, wrk

    ours = next(s for s in servers(slide) if s.name == "ziggurat serve" and s.grid == "dz")
    paths = tile_paths(ours, slide, args.unique, seed=1)
    seconds = max(3, 4 * args.seconds)
    print(f"{slide.name}: ziggurat serve x{workers}, wrk -t2 -c{args.connections}, {seconds} s per run, "
          f"{len(paths)} distinct DeepZoom tiles; cache faults at " +
          ", ".join(f"{a} {f:.0%}" for f, a in SCHEDULE), flush=True)  # fmt: skip
    rows = []
    with running(ours, slide, workers, free_port(), paths[0], cache="memory://") as base:
        reference = wrk(base, paths, seconds, args.connections)
    rows.append(("no shared cache (reference)", "", reference))
    for kind in ("memcached", "redis"):
        with LocalServer(kind) as cache:
            with running(ours, slide, workers, free_port(), paths[0], cache=cache.url) as base:
                stop, log = threading.Event(), []
                chaos = threading.Thread(target=_faults_during, args=(cache, seconds, stop, log))
                chaos.start()
                try:
                    result = wrk(base, paths, seconds, args.connections)
                finally:
                    stop.set()
                    chaos.join()
                    cache.pause(False)
        rows.append((kind, "; ".join(log), result))
    lines = ["| cache | faults during the run | requests | req/s | p50 (ms) | p99 (ms) | failed | p99 ÷ no-cache p99 |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    worst = 0.0
    failed_total = 0
    for name, log_text, r in rows:
        failed = int(r["non2xx"] + r["errors"])
        failed_total += failed
        ratio = r["p99_ms"] / reference["p99_ms"]
        worst = max(worst, ratio if r is not reference else 0.0)
        lines.append(f"| {name} | {log_text} | {r['requests']:.0f} | {r['requests'] / r['seconds']:,.0f} | "
                     f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {failed} | {ratio:.2f}x |")  # fmt: skip
    print("\n".join(lines))
    print(f"check: faults: {failed_total} failed requests, worst p99 {worst:.2f}x the no-cache run "
          f"(target 0 and <= 2x): {'ok' if failed_total == 0 and worst <= 2 else 'MISSED'}")  # fmt: skip
    return 0 if failed_total == 0 else 1
