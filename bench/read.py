"""Open time and random region reads: ziggurat vs openslide, tiffslide and pyvips, same file, same positions.

    python -m bench read            # 40,000 x 30,000 generated JPEG slide
    python -m bench read --quick    # 4,000 x 3,000, few reads (the test suite runs this)
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .harness import Result, print_table, sample_slide, time_calls

Reader = Callable[[tuple[int, int], int, tuple[int, int]], Any]


def _ziggurat(path: Path, cache: bool) -> tuple[Any, Reader]:
    import ziggurat
    from ziggurat.cache.lru import decoded_tiles

    decoded_tiles().clear()  # reuse only within one case, as openslide's per-handle cache
    image = ziggurat.open(path, decoded_cache=cache)
    return image, image.read_region


def _openslide(path: Path) -> tuple[Any, Reader]:
    import openslide

    slide = openslide.OpenSlide(path)
    return slide, lambda loc, level, size: np.asarray(slide.read_region(loc, level, size))


def _tiffslide(path: Path) -> tuple[Any, Reader]:
    import tiffslide

    slide = tiffslide.TiffSlide(path)
    return slide, lambda loc, level, size: slide.read_region(loc, level, size, as_array=True)


def _pyvips(path: Path) -> tuple[Any, Reader]:
    import pyvips

    pages: dict[int, Any] = {}
    downsamples: dict[int, float] = {}

    def read(loc: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        if level not in pages:
            pages[level] = pyvips.Image.tiffload(str(path), page=level)
            first = pyvips.Image.tiffload(str(path), page=0)
            downsamples[level] = first.width / pages[level].width
        ds = downsamples[level]
        return pages[level].crop(int(loc[0] / ds), int(loc[1] / ds), *size).numpy()

    return None, read


TOOLS: dict[str, Callable[[Path], tuple[Any, Reader]]] = {
    "ziggurat": lambda p: _ziggurat(p, cache=False),
    "ziggurat + decoded-tile cache": lambda p: _ziggurat(p, cache=True),
    "openslide": _openslide,
    "tiffslide": _tiffslide,
    "pyvips": _pyvips,
}


def _open_metadata(name: str, path: Path) -> None:
    if name.startswith("ziggurat"):
        import ziggurat

        image = ziggurat.open(path)
        image.level_dimensions, image.mpp
    elif name == "openslide":
        import openslide

        slide = openslide.OpenSlide(path)
        slide.level_dimensions, slide.properties.get("openslide.mpp-x")
    elif name == "tiffslide":
        import tiffslide

        slide = tiffslide.TiffSlide(path)
        slide.level_dimensions, slide.properties.get("tiffslide.mpp-x")
    else:
        import pyvips

        img = pyvips.Image.new_from_file(str(path))
        img.width, img.get("xres")


def _positions(
    rng: np.random.Generator, dims: tuple[int, int], ds: float, size: int, n: int, aligned: bool
) -> list[tuple[int, int]]:
    w, h = dims
    xs = rng.integers(0, max(1, w - size), n)
    ys = rng.integers(0, max(1, h - size), n)
    if aligned:
        xs, ys = xs // 256 * 256, ys // 256 * 256
    return [(int(x * ds), int(y * ds)) for x, y in zip(xs, ys)]


def run(path: Path, reads: int, threads_list: tuple[int, ...]) -> list[Result]:
    import ziggurat

    with ziggurat.open(path) as probe:
        dims, downsamples = probe.level_dimensions, probe.level_downsamples
    Path(path).read_bytes()  # warm the page cache: every tool reads from memory alike
    results = []
    for name in TOOLS:
        if name == "ziggurat + decoded-tile cache":
            continue
        secs = time_calls(lambda i: _open_metadata(name, path), 30, warmup=3)
        results.append(Result("open + metadata", name, secs))
    rng = np.random.default_rng(42)
    mid = len(dims) // 2
    for level in (0, mid):
        for size in (256, 1024):
            if size > min(dims[level]):
                continue
            n = reads if size == 256 else max(5, reads // 4)
            for aligned in (False, True):
                positions = _positions(rng, dims[level], downsamples[level], size, n, aligned)
                for threads in threads_list:
                    case = (f"L{level} {size}² {'aligned' if aligned else 'unaligned'}"
                            f"{'' if threads == 1 else f' {threads} threads'}")  # fmt: skip
                    for name, factory in TOOLS.items():
                        handle, read = factory(path)
                        read(positions[0], level, (size, size))  # open lazily-built state
                        gc.collect()
                        results.append(Result(case, name, _timed_reads(read, positions, level, size, threads)))
                        del handle
    return results


def _timed_reads(read: Reader, positions: list, level: int, size: int, threads: int) -> list[float]:
    if threads == 1:
        return time_calls(lambda i: read(positions[i], level, (size, size)), len(positions))
    with ThreadPoolExecutor(threads) as pool:
        chunks = [positions[i::threads] for i in range(threads)]
        per_thread = pool.map(
            lambda chunk: time_calls(lambda i: read(chunk[i], level, (size, size)), len(chunk)), chunks
        )
        return [s for chunk in per_thread for s in chunk]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench read")
    parser.add_argument("--quick", action="store_true", help="tiny slide, few reads")
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args(argv)
    if args.quick:
        path, reads = sample_slide(4000, 3000), 12
    else:
        path, reads = sample_slide(40_000, 30_000), args.reads
    print(f"slide: {path}")
    results = run(path, reads, (1, 2))
    print_table(results)
    return 0
