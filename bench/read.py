"""Open time, random region reads and whole-slide thumbnails: ziggurat vs openslide, tiffslide and pyvips.

Open time (``open + metadata``: open, level dimensions and MPP) is measured on the generated slide
and on every SVS-like realdata file openslide opens.

    python -m bench read            # 40,000 x 30,000 generated JPEG slide; thumbnails of it and of realdata
    python -m bench read --quick    # 4,000 x 3,000, few reads (the test suite runs this)
    python -m bench read --thumbnails-only

Region reads: same file, same positions. Thumbnails (``get_thumbnail((s, s))`` for s in 256, 512,
1024): every realdata file openslide can open plus the generated slide, each tool from a fresh
handle and empty caches per call (the open is not timed), median of the calls. After the timings,
ziggurat's thumbnail is compared with openslide's (size, and mean absolute difference of the pixels:
area mean vs Lanczos, so a few grey levels apart) in a table the test suite checks.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .harness import DATA_DIR, Result, print_table, sample_slide, time_calls

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
        _ = image.level_dimensions, image.mpp
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
        secs = time_calls(lambda i, name=name: _open_metadata(name, path), 30, warmup=3)
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


# -- thumbnails ------------------------------------------------------------------------------------

Thumbnailer = Callable[[int], Any]  # size -> thumbnail (array or PIL image); built fresh per call


def _thumb_ziggurat(path: Path) -> Thumbnailer:
    image, _ = _ziggurat(path, cache=False)
    return lambda size: image.get_thumbnail((size, size))


def _thumb_openslide(path: Path) -> Thumbnailer:
    import openslide

    slide = openslide.OpenSlide(path)
    return lambda size: slide.get_thumbnail((size, size))


def _thumb_tiffslide(path: Path) -> Thumbnailer:
    import tiffslide

    slide = tiffslide.TiffSlide(path)
    return lambda size: slide.get_thumbnail((size, size))


def _thumb_pyvips(path: Path) -> Thumbnailer:
    import pyvips

    return lambda size: pyvips.Image.thumbnail(str(path), size, height=size).numpy()


THUMBNAILERS: dict[str, Callable[[Path], Thumbnailer]] = {
    "ziggurat": _thumb_ziggurat,
    "openslide": _thumb_openslide,
    "tiffslide": _thumb_tiffslide,
    "pyvips": _thumb_pyvips,
}
THUMB_SIZES = (256, 512, 1024)


def realdata_slides() -> list[Path]:
    """The realdata files (../shared/realdata or $ZIGGURAT_REALDATA) that openslide and ziggurat both open."""
    import os

    import openslide

    root = Path(os.environ.get("ZIGGURAT_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))
    found = []
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_file() and path.suffix.lower() in (".svs", ".tif", ".tiff", ".ndpi", ".scn", ".qptiff"):
            if openslide.OpenSlide.detect_format(path) is None:
                continue
            try:
                _thumb_ziggurat(path)
            except Exception:  # a file ziggurat cannot open is not a thumbnail case
                continue
            found.append(path)
    return found


def run_thumbnails(paths: list[Path], sizes: tuple[int, ...], repeat: int) -> tuple[list[Result], list[str]]:
    """Timings per (file, size, tool) and, per (file, size), ziggurat's thumbnail against openslide's."""
    results, agreement = [], []
    for path in paths:
        Path(path).read_bytes()  # warm the page cache: every tool reads from memory alike
        for size in sizes:
            case = f"thumb {path.name} {size}"
            last: dict[str, np.ndarray] = {}
            for name, factory in THUMBNAILERS.items():
                try:
                    factory(path)(size)  # warm-up: imports, lazily built state
                except Exception as exc:  # an anchor that cannot read a file is reported
                    print(f"{case}: {name} failed: {exc}", file=sys.stderr)
                    continue
                seconds = []
                for _ in range(repeat):
                    thumbnail = factory(path)  # a fresh handle and empty caches, not timed
                    gc.collect()
                    start = time.perf_counter()
                    out = thumbnail(size)
                    seconds.append(time.perf_counter() - start)
                last[name] = np.asarray(out)[..., :3]
                results.append(Result(case, name, seconds))
            ours, theirs = last.get("ziggurat"), last.get("openslide")
            if ours is not None and theirs is not None:
                same = ours.shape == theirs.shape
                diff = np.abs(ours.astype(np.int16) - theirs).mean() if same else float("nan")
                agreement.append(f"| {path.name} | {size} | {ours.shape[1]}x{ours.shape[0]} | "
                                 f"{theirs.shape[1]}x{theirs.shape[0]} | {diff:.2f} |")  # fmt: skip
    return results, agreement


def run_open(paths: list[Path], repeat: int = 30) -> list[Result]:
    """``open + metadata`` of each SVS-like realdata file, every tool from a fresh handle."""
    results = []
    for path in paths:
        Path(path).read_bytes()  # warm the page cache
        for name in TOOLS:
            if name != "ziggurat + decoded-tile cache":
                secs = time_calls(lambda i, name=name, path=path: _open_metadata(name, path), repeat, warmup=3)
                results.append(Result(f"open + metadata {path.name}", name, secs))
    return results


def print_thumbnails(results: list[Result], agreement: list[str]) -> None:
    print_table(results)
    print()
    print("| thumbnail agreement: file | size | ziggurat WxH | openslide WxH | mean abs diff |")
    print("|---|---|---|---|---|")
    print("\n".join(agreement))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench read")
    parser.add_argument("--quick", action="store_true", help="tiny slide, few reads")
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--thumb-repeat", type=int, default=5)
    parser.add_argument("--thumbnails-only", action="store_true", help="skip the region reads")
    args = parser.parse_args(argv)
    if args.quick:
        path, reads, sizes, repeat = sample_slide(4000, 3000), 12, (256, 512), 2
    else:
        path, reads, sizes, repeat = sample_slide(40_000, 30_000), args.reads, THUMB_SIZES, args.thumb_repeat
    print(f"slide: {path}")
    if not args.thumbnails_only:
        print_table(run(path, reads, (1, 2)))
        print()
    slides = realdata_slides()
    if args.quick:
        slides = [p for p in slides if p.name == "CMU-1-Small-Region.svs"]
    if not args.thumbnails_only:
        print_table(run_open(slides, 5 if args.quick else 30))
        print()
    print(f"thumbnails of {', '.join(p.name for p in [*slides, path])} (data in {DATA_DIR})")
    print_thumbnails(*run_thumbnails([*slides, path], sizes, repeat))
    return 0
