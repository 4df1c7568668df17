"""Pair-averaged half-resolution 8-bit thumbnails of a 16-bit CT stack: ziggurat vs PIL per pair vs tifffile pool.

    python -m bench thumbnails            # 200 slices of 2800 x 2800 uint16 (~15 MB each)
    python -m bench thumbnails --quick    # 10 slices of 280 x 280 (the test suite runs this)

All tools read the same warm (page-cached) uncompressed TIFF slices, average each pair of slices and
each 2x2 block, window to 8 bits with the same window, and write one image per pair:
- ``ziggurat`` (PNG and TIFF output): ``build_thumbnails(..., pair_average=True, levels=1)``;
- ``pil-per-pair``: the CTHarvester way, Pillow opens each pair, NumPy averages, Pillow halves and
  saves PNG, on 2 threads;
- ``tifffile-2proc``: tifffile memory-maps each pair, NumPy float averaging, TIFF output, 2 processes;
- ``read-bytes``: only reads every file's bytes (2 threads), the floor the issue compares against.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tifffile

from .harness import DATA_DIR, Result, peak_rss_mb

WINDOW = (0.0, 3000.0)


def ct_stack(n: int, size: int) -> Path:
    """n CT-like uint16 slices of size x size (a phantom slice, shifted and re-noised per slice), made once."""
    from ziggurat.testing.sample import ct_volume

    path = DATA_DIR / f"ct-stack-{n}x{size}"
    if path.is_dir():
        return path
    base = ct_volume((3, size, size))[1].astype(np.int32)
    rng = np.random.default_rng(0)
    noise = rng.integers(-40, 40, (size, size + 64), dtype=np.int32)
    tmp = path.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i in range(n):
        plane = np.roll(base, i % 32, axis=0) + noise[:, i % 64 : i % 64 + size]
        tifffile.imwrite(tmp / f"slice_{i:04d}.tif", np.clip(plane, 0, 65535).astype(np.uint16))
    tmp.rename(path)
    return path


def _window8(mean: np.ndarray) -> np.ndarray:
    lo, hi = WINDOW
    return np.floor(np.clip((mean - lo) * (255.0 / (hi - lo)), 0, 255) + 0.5).astype(np.uint8)


def _pil_pair(args: tuple[Path, Path, Path]) -> None:
    from PIL import Image

    a, b, out = args
    pair = [np.asarray(Image.open(f), dtype=np.float32) for f in (a, b)]
    image = Image.fromarray(_window8((pair[0] + pair[1]) / 2))
    image.resize((image.width // 2, image.height // 2), Image.Resampling.BOX).save(out)


def _tifffile_pair(args: tuple[Path, Path, Path]) -> None:
    a, b, out = args
    s = tifffile.memmap(a, mode="r").astype(np.float32) + tifffile.memmap(b, mode="r")
    half = (s[0::2, 0::2] + s[1::2, 0::2] + s[0::2, 1::2] + s[1::2, 1::2]) / 8
    tifffile.imwrite(out, _window8(half))


def _pairs(stack: Path, out: Path, suffix: str) -> list[tuple[Path, Path, Path]]:
    files = sorted(stack.glob("*.tif"))
    return [(files[i], files[i + 1], out / f"{i // 2:06d}.{suffix}") for i in range(0, len(files) - 1, 2)]


def run(tool: str, stack: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if tool.startswith("ziggurat"):
        from ziggurat.writers.thumbnails import build_thumbnails

        fmt = tool.rsplit("-", 1)[1]
        build_thumbnails(stack, out, pair_average=True, window=WINDOW, format=fmt, levels=1)
    elif tool == "pil-per-pair":
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(_pil_pair, _pairs(stack, out, "png")))
    elif tool == "tifffile-2proc":
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(_tifffile_pair, _pairs(stack, out, "tif"), chunksize=4))
    elif tool == "read-bytes":
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda f: len(f.read_bytes()), sorted(stack.glob("*.tif"))))


TOOLS = ("ziggurat-png", "ziggurat-tif", "pil-per-pair", "tifffile-2proc", "read-bytes")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench thumbnails")
    parser.add_argument("--quick", action="store_true", help="10 slices of 280 x 280")
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--size", type=int, default=2800)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    args = parser.parse_args(argv)
    n, size, repeat = (10, 280, 1) if args.quick else (args.slices, args.size, args.repeat)
    stack = ct_stack(n, size)
    run("read-bytes", stack, DATA_DIR / "thumbs-warm")  # warm the page cache
    results = []
    for tool in args.tools.split(","):
        result = Result(stack.name, tool)
        for _ in range(repeat):
            start = time.perf_counter()
            run(tool, stack, DATA_DIR / f"thumbs-{tool}")
            result.seconds.append(time.perf_counter() - start)
        results.append(result)
        print(f"{tool}: {result.p50:.2f} s", file=sys.stderr)
        shutil.rmtree(DATA_DIR / f"thumbs-{tool}", ignore_errors=True)
    pairs = n // 2
    ours = results[0].p50
    lines = ["| tool | wall (s) | s per pair | MB/s read | wall / ziggurat-png |", "|---|---|---|---|---|"]
    for r in results:
        mbs = n * size * size * 2 / 1e6 / r.p50
        lines.append(f"| {r.tool} | {r.p50:.2f} | {r.p50 / pairs:.4f} | {mbs:.0f} | {r.p50 / ours:.2f}x |")
    print(f"{n} slices of {size} x {size} uint16, {pairs} pairs; peak RSS of the run {peak_rss_mb():.0f} MB")
    print("\n".join(lines))
    return 0
