"""Tiles: ziggurat vs large_image ``getTile``, same XYZ tiles, JPEG q90, uncached and cached.

    python -m bench tiles            # 40,000 x 30,000 generated JPEG slide
    python -m bench tiles --quick    # 4,000 x 3,000, few tiles (the test suite runs this)

Uncached: unique random tiles, a level drawn uniformly then a tile in it, the file warm in the OS
page cache for both. ziggurat sends whole stored JPEG tiles as they are (as large_image does);
the "re-encode" case forces decode + style + encode for every tile. Cached: the same tiles
again, from ziggurat's memory, memcached and redis caches (real servers on loopback) and from
large_image's in-process tile cache. Throughput: 2 threads, each uncached run on its own new
tile set (large_image's tile cache is process-wide), each cached run on the primed tiles.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .harness import Result, print_table, sample_slide, time_calls

Tile = tuple[int, int, int]  # (z, x, y)
Getter = Callable[[Tile], Any]


def pick_tiles(level_tiles: tuple[tuple[int, int], ...], n: int, seed: int = 0) -> list[Tile]:
    """Up to ``n`` distinct tiles: a level drawn uniformly, then a tile in it."""
    rng = random.Random(seed)
    chosen: dict[Tile, None] = {}
    total = sum(c * r for c, r in level_tiles)
    while len(chosen) < min(n, total):
        z = rng.randrange(len(level_tiles))
        cols, rows = level_tiles[z]
        chosen[(z, rng.randrange(cols), rng.randrange(rows))] = None
    return list(chosen)


def ziggurat_getter(path: Path, cache: str, **options: Any) -> Getter:
    import ziggurat

    service = ziggurat.TileService(cache)
    image = ziggurat.open(path)
    return lambda t: service.tile(image, t[0], t[1], t[2], grid="xyz", quality=90, **options)


def large_image_getter(path: Path) -> Getter:
    import large_image_source_tiff

    source = large_image_source_tiff.open(str(path), encoding="JPEG", jpegQuality=90)
    return lambda t: source.getTile(t[1], t[2], t[0])


def timed(case: str, tool: str, get: Getter, tiles: list[Tile]) -> Result:
    return Result(case, tool, time_calls(lambda i: get(tiles[i]), len(tiles)))


def throughput(get: Getter, tiles: list[Tile], threads: int = 2) -> float:
    """Tiles per second with ``threads`` workers."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(get, tiles))
    return len(tiles) / (time.perf_counter() - start)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tiles")
    parser.add_argument("--quick", action="store_true", help="tiny slide, few tiles")
    parser.add_argument("--tiles", type=int, help="tiles per case (default 400, quick 40)")
    args = parser.parse_args(argv)
    import ziggurat
    from ziggurat.cache import decoded_tiles
    from ziggurat.testing.servers import LocalServer
    from ziggurat.tiles.grid import XYZGrid

    path = sample_slide(4000, 3000) if args.quick else sample_slide(40000, 30000)
    n = args.tiles or (40 if args.quick else 400)
    path.read_bytes()  # the whole file into the OS page cache, for every tool alike
    grid = XYZGrid(*ziggurat.open(path).dimensions, 256)
    tiles = pick_tiles(grid.level_tiles, n)
    fresh = iter(range(1, 100))  # a new tile set per throughput run, so no cache can have seen it
    print(f"{path.name}: {len(tiles)} distinct XYZ tiles over {grid.level_count} levels, JPEG q90")

    results: list[Result] = []
    rates: list[tuple[str, str, float]] = []
    uncached = [
        ("large_image", "uncached tile", lambda: large_image_getter(path)),
        ("ziggurat", "uncached tile", lambda: ziggurat_getter(path, "none://")),
        ("ziggurat", "uncached tile, re-encode", lambda: ziggurat_getter(path, "none://", passthrough=False)),
    ]
    for tool, case, make in uncached:
        decoded_tiles().clear()
        results.append(timed(case, tool, make(), tiles))
        decoded_tiles().clear()
        rates.append((case, tool, throughput(make(), pick_tiles(grid.level_tiles, n, seed=next(fresh)))))
    results.append(Result("uncached tile, re-encode", "large_image", results[0].seconds))

    checked = tiles[: min(len(tiles), 40)]
    truth = [ziggurat_getter(path, "none://")(t) for t in checked]
    failures = check_pixels(path, checked, truth)
    with LocalServer("memcached") as memcached, LocalServer("redis") as redis:
        for name, url in (("memory", "memory://?max=1GB"), ("memcached", memcached.url), ("redis", redis.url)):
            get = ziggurat_getter(path, url)
            for t in tiles:
                get(t)
            same = sum(get(t) == data for t, data in zip(checked, truth))
            print(f"check: {name} cache hits equal uncached tiles on {same}/{len(checked)}")
            failures += same != len(checked)
            results.append(timed(f"cached hit: {name}", "ziggurat", get, tiles))
            rates.append((f"cached hit: {name}", "ziggurat", throughput(get, tiles)))
    get = large_image_getter(path)
    for t in tiles:
        get(t)
    results.append(timed("cached hit: memory", "large_image", get, tiles))
    rates.append(("cached hit: memory", "large_image", throughput(get, tiles)))

    print()
    print_table(results)
    print("\n| case | tool | tiles/s, 2 threads |\n|---|---|---|")
    for case, tool, rate in rates:
        print(f"| {case} | {tool} | {rate:,.0f} |")
    return 1 if failures else 0


#: largest mean |difference| (8-bit) between ziggurat's and large_image's decoded tiles: stored
#: levels hold the same JPEG tiles (re-encoded at q90 on edges: JPEG noise); coarser ones differ by
#: the 2x2 mean vs large_image's resize
TOLERANCE = {"stored": 2.5, "synthesized": 6.0}


def check_pixels(path: Path, tiles: list[Tile], ours: list[bytes]) -> int:
    """Decode ziggurat's and large_image's tiles; print the worst mean difference; 1 if too large."""
    import imagecodecs
    import numpy as np

    import ziggurat
    from ziggurat.tiles.grid import XYZGrid

    theirs = large_image_getter(path)
    image = ziggurat.open(path)
    stored = {round(level.downsample) for level in image.levels}
    worst = {"stored": 0.0, "synthesized": 0.0}
    grid = XYZGrid(*image.dimensions, 256)
    top = grid.level_count - 1
    for t, data in zip(tiles, ours):
        *_, width, height = grid.tile_bounds(*t)  # the image part: the tools pad edge tiles differently
        a = imagecodecs.imread(data)[:height, :width, :3].astype(int)
        b = imagecodecs.imread(theirs(t))[:height, :width, :3].astype(int)
        kind = "stored" if 2 ** (top - t[0]) in stored else "synthesized"
        diff = float(np.abs(a - b).mean()) if a.shape == b.shape else float("inf")
        worst[kind] = max(worst[kind], diff)
    bad = [k for k, v in worst.items() if v > TOLERANCE[k]]
    print(f"check: pixels vs large_image on {len(tiles)} tiles, worst mean |diff| "
          f"stored {worst['stored']:.2f} (<= {TOLERANCE['stored']}), synthesized {worst['synthesized']:.2f} "
          f"(<= {TOLERANCE['synthesized']}): {'FAIL' if bad else 'ok'}")  # fmt: skip
    return 1 if bad else 0
