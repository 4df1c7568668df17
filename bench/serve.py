"""Tile server under load: ``ziggurat serve`` vs openslide's DeepZoomGenerator and large_image's
getTile behind the same Starlette/uvicorn app (bench/_serve_anchors.py), on loopback with wrk.

    python -m bench serve            # 40,000 x 30,000 generated JPEG slide
    python -m bench serve --quick    # 4,000 x 3,000, short runs (the test suite runs this)

Each server runs with 1 and then 2 uvicorn worker processes. Per start: **uncached** — wrk walks
a list of distinct tiles from the three finest levels, each requested once (a run whose request
count exceeds the list is marked "wrapped"); **cached** — a second tile set is requested once to
warm the caches, then wrk repeats it. ziggurat's cache: memory:// with 1 worker; with 2, one
shared memcached behind each worker's in-process tier; the anchors keep their own in-process
caches (openslide's decoded tiles, large_image's tile cache). DeepZoom (254 px, overlap 1) is compared
with openslide, XYZ (256 px) with large_image; JPEG q90 throughout. wrk itself runs on the same 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .harness import sample_slide
from .tiles import pick_tiles

REPO = Path(__file__).resolve().parent.parent
WRK_SCRIPT = """
local paths, i, offset, step = {}, 0, 0, 1
local counter = 0
function setup(thread) thread:set("offset", counter); counter = counter + 1 end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  step = tonumber(args[2])
end
function request()
  local index = (offset + i * step) % #paths + 1
  i = i + 1
  return wrk.format("GET", paths[index])
end
function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "non2xx": %d, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Server:
    """One way of serving the slide: how to start it and how its tile URLs look."""

    name: str
    grid: str  # "dz" or "xyz"
    argv: list[str]
    url: str  # format string with {a} {b} {c}: (level, col, row) or (z, x, y)


@dataclass
class Run:
    server: str
    workers: int
    case: str
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    bad: int
    wrapped: bool


def servers(slide: Path) -> list[Server]:
    from ziggurat.server.catalog import image_id

    ident = image_id(slide.name)
    ours = [sys.executable, "-m", "ziggurat.cli", "serve", str(slide)]
    anchor = [sys.executable, "-m", "uvicorn", "--factory", "--log-level", "warning", "--no-access-log"]
    return [
        Server("ziggurat serve", "dz", ours, f"/api/images/{ident}_files/{{a}}/{{b}}_{{c}}.jpeg"),
        Server(
            "openslide DeepZoomGenerator", "dz", [*anchor, "bench._serve_anchors:openslide_app"], "/dz/{a}/{b}_{c}.jpeg"
        ),
        Server("ziggurat serve", "xyz", ours, f"/api/images/{ident}/tiles/{{a}}/{{b}}/{{c}}.jpeg"),
        Server(
            "large_image getTile", "xyz", [*anchor, "bench._serve_anchors:large_image_app"], "/xyz/{a}/{b}/{c}.jpeg"
        ),
    ]


def tile_paths(server: Server, slide: Path, n: int, seed: int) -> list[str]:
    """``n`` distinct tile URLs from the three finest levels of the server's grid."""
    import ziggurat
    from ziggurat.tiles.grid import DeepZoomGrid, XYZGrid

    with ziggurat.open(slide) as image:
        size = image.dimensions
    grid = DeepZoomGrid(*size, 254, 1) if server.grid == "dz" else XYZGrid(*size, 256)
    skip = grid.level_count - 3
    return [server.url.format(a=z + skip, b=x, c=y) for z, x, y in pick_tiles(grid.level_tiles[skip:], n, seed)]


@contextmanager
def running(server: Server, slide: Path, workers: int, port: int, probe: str,
            cache: str | None = None) -> Iterator[str]:  # fmt: skip
    """Start ``server`` on ``port`` with ziggurat's tile ``cache`` (default: memory://, or a
    private memcached for 2 workers)."""
    from ziggurat.testing.servers import LocalServer

    ours = server.name.startswith("ziggurat")
    argv = [*server.argv, "--port", str(port), "--processes" if ours else "--workers", str(workers)]
    memcached = None
    if ours:
        memcached = LocalServer("memcached").start() if workers > 1 and cache is None else None
        argv += ["--cache", cache or (memcached.url if memcached else "memory://")]
    # this tree's ziggurat, not whichever one the venv has installed
    env = {**os.environ, "BENCH_SERVE_SLIDE": str(slide), "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + probe, timeout=30).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{server.name} did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(30)
        if memcached is not None:
            memcached.stop()


def wrk(base: str, paths: list[str], seconds: int, connections: int, threads: int = 2) -> dict[str, float]:
    """One bounded wrk run over ``paths`` (each thread walks its own interleaved share)."""
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp, "walk.lua"), Path(tmp, "paths.txt")
        script.write_text(WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script),
             base + paths[0], "--", str(listing), str(threads)],
            capture_output=True, text=True, check=True, timeout=seconds + 120,
        )  # fmt: skip
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


#: tiles per server compared after the runs (cached vs first answer; pixels vs the anchor)
CHECKED = 10
#: largest mean |difference| (8-bit) between ziggurat's tile and the anchor's for the same tile:
#: stored levels decode the same JPEG tiles; a synthesized level is a 2x2 mean vs openslide's
#: Lanczos or large_image's resize; both re-encode at q90
PIXEL_TOLERANCE = 8.0


def measure(server: Server, slide: Path, workers: int, args: argparse.Namespace, port: int,
            samples: dict[tuple[str, int], list[bytes]]) -> list[Run]:  # fmt: skip
    uncached = tile_paths(server, slide, args.unique, seed=1)
    warm = tile_paths(server, slide, args.warm, seed=2)
    runs = []
    with running(server, slide, workers, port, warm[0]) as base:
        for case, paths, prime in (("uncached", uncached, False), ("cached", warm, True)):
            first: list[bytes] = []
            if prime:
                for path in paths:
                    first.append(urllib.request.urlopen(base + path, timeout=60).read())
                samples[(f"{server.name} ({server.grid})", workers)] = first[:CHECKED]
            r = wrk(base, paths, args.seconds, args.connections)
            if prime and server.name.startswith("ziggurat"):
                again = [urllib.request.urlopen(base + p, timeout=60).read() for p in paths[:CHECKED]]
                same = sum(a == b for a, b in zip(again, first))
                print(f"check: {server.name} ({server.grid}) x{workers}: cached responses equal the first "
                      f"(rendered) ones on {same}/{len(again)}", flush=True)  # fmt: skip
                r["non2xx"] += len(again) - same  # a cached answer that differs counts as a bad response
            runs.append(
                Run(
                    f"{server.name} ({server.grid})",
                    workers,
                    case,
                    r["requests"],
                    r["requests"] / r["seconds"],
                    r["p50_ms"],
                    r["p99_ms"],
                    int(r["non2xx"] + r["errors"]),
                    case == "uncached" and r["requests"] > len(paths),
                )
            )
            print(f"  {runs[-1]}", flush=True)
    return runs


def table(runs: list[Run]) -> str:
    lines = ["| server (grid) | workers | case | requests | req/s | p50 (ms) | p99 (ms) | errors "
             "| ziggurat req/s ÷ this |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ours = {(r.server.split(" (")[1], r.workers, r.case): r.rate for r in runs if r.server.startswith("ziggurat")}
    for r in runs:
        mine = ours.get((r.server.split(" (")[1], r.workers, r.case))
        ratio = "" if r.server.startswith("ziggurat") or not mine else f"{mine / r.rate:.1f}x"
        lines.append(f"| {r.server} | {r.workers} | {r.case}{' (wrapped)' if r.wrapped else ''} | {r.requests} | "
                     f"{r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.bad} | {ratio} |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench serve")
    parser.add_argument("--quick", action="store_true", help="small slide, short runs, 1 worker")
    parser.add_argument("--seconds", type=int, help="wrk duration per run, whole seconds (default 5, quick 1)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--unique", type=int, help="distinct tiles for uncached runs (default 24000, quick 2000)")
    parser.add_argument("--warm", type=int, help="tiles in the cached set (default 500, quick 50)")
    parser.add_argument("--workers", default=None, help="comma-separated worker counts (default 1,2; quick 1)")
    parser.add_argument("--faults", action="store_true",
                        help="instead: ziggurat under wrk while its shared memcached/redis is killed, frozen and "
                             "restarted, against a run without a cache (bench/_serve_faults.py)")  # fmt: skip
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench serve: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    args.seconds = args.seconds or (1 if args.quick else 5)
    args.unique = args.unique or (2000 if args.quick else 24000)
    args.warm = args.warm or (50 if args.quick else 500)
    workers = [int(w) for w in (args.workers or ("1" if args.quick else "1,2")).split(",")]
    from ziggurat.testing.servers import free_port

    slide = sample_slide(4000, 3000) if args.quick else sample_slide(40000, 30000)
    slide.read_bytes()  # into the OS page cache for every server alike
    if args.faults:
        from ._serve_faults import faults

        return faults(slide, args, workers[-1])
    print(f"{slide.name}: wrk -t2 -c{args.connections}, {args.seconds:g} s per run, "
          f"{args.unique} distinct tiles uncached, {args.warm} cached")  # fmt: skip
    samples: dict[tuple[str, int], list[bytes]] = {}
    runs = [
        run
        for n in workers
        for server in servers(slide)
        for run in measure(server, slide, n, args, free_port(), samples)
    ]
    table(runs)
    agree = check_pixels(samples, workers)
    return 0 if agree and all(r.bad == 0 for r in runs) else 1


def check_pixels(samples: dict[tuple[str, int], list[bytes]], workers: list[int]) -> bool:
    """ziggurat's tiles vs the anchor's for the same tile list: decoded, mean |diff| per tile."""
    import imagecodecs
    import numpy as np

    ok = True
    for ours, theirs in (("ziggurat serve (dz)", "openslide DeepZoomGenerator (dz)"),
                         ("ziggurat serve (xyz)", "large_image getTile (xyz)")):  # fmt: skip
        for n in workers:
            worst = 0.0
            pairs = list(zip(samples[(ours, n)], samples[(theirs, n)]))
            for a, b in pairs:
                x, y = imagecodecs.imread(a)[..., :3].astype(int), imagecodecs.imread(b)[..., :3].astype(int)
                worst = max(worst, float(np.abs(x - y).mean()) if x.shape == y.shape else float("inf"))
            good = bool(pairs) and worst <= PIXEL_TOLERANCE
            ok &= good
            print(f"check: pixels {ours} vs {theirs} x{n} on {len(pairs)} tiles: worst mean |diff| {worst:.2f} "
                  f"(<= {PIXEL_TOLERANCE}): {'ok' if good else 'FAIL'}")  # fmt: skip
    return ok
