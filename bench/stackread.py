"""Reads of uncompressed TIFF stacks: a folder of slices (tiffstack) and one multi-page TIFF (tiff).

    python -m bench stackread            # 100 slices of 2800 x 2800 uint16; 200 pages of 1024 x 1024
    python -m bench stackread --quick    # tiny stacks, few reads (the test suite runs this)

Uncompressed slices were memory-mapped, which dies with SIGBUS when a file shrinks while open; they
are read with ``pread`` now. This measures what that costs on warm (page-cached) files: a random
64³ patch, one coronal plane (every slice's row) and one whole axial slice, through
``ziggurat.open``, against tifffile's memory map of the same bytes (the anchor the old code used).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile

from .harness import DATA_DIR, Result, print_table, time_calls
from .thumbnails import ct_stack

Read = Callable[[int, int, int], np.ndarray]  # (z, y, x) start -> patch


def multipage(n: int, size: int) -> Path:
    """One uncompressed n-page TIFF of size x size uint16 (a contiguous series), made once."""
    path = DATA_DIR / f"pages-{n}x{size}.tif"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        volume = np.random.default_rng(0).integers(0, 4096, (n, size, size), dtype=np.uint16)
        tifffile.imwrite(path.with_suffix(".partial"), volume, metadata={"axes": "ZYX"})
        path.with_suffix(".partial").rename(path)
    return path


def ziggurat_reader(path: Path, backend: str) -> Callable[[tuple[slice, ...]], np.ndarray]:
    import ziggurat

    level = ziggurat.open(path, backend=backend).levels[0]
    return lambda key: np.asarray(level[key])


def memmap_reader(path: Path) -> Callable[[tuple[slice, ...]], np.ndarray]:
    if path.is_dir():
        files = sorted(path.glob("*.tif"))
        maps = [tifffile.memmap(f, mode="r") for f in files]
        return lambda key: np.stack([m[key[1:]] for m in maps[key[0]]])
    volume = tifffile.memmap(path, mode="r")
    return lambda key: np.array(volume[key])


def cases(shape: tuple[int, int, int], rng: np.random.Generator, n: int) -> dict[str, list[tuple[slice, ...]]]:
    depth, h, w = shape
    patch = min(64, depth, h, w)
    starts = [(rng.integers(0, depth - patch + 1), rng.integers(0, h - patch + 1), rng.integers(0, w - patch + 1))
              for _ in range(n)]  # fmt: skip
    return {
        "64³ patch": [(slice(z, z + patch), slice(y, y + patch), slice(x, x + patch)) for z, y, x in starts],
        "coronal plane": [(slice(0, depth), slice(y, y + 1), slice(0, w)) for _, y, _ in starts],
        "axial slice": [(slice(z, z + 1), slice(0, h), slice(0, w)) for z, _, _ in starts],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench stackread")
    parser.add_argument("--quick", action="store_true", help="tiny stacks, 3 reads per case")
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args(argv)
    stacks = [(ct_stack(6, 96), "tiffstack"), (multipage(8, 96), "tiff")] if args.quick else [
        (ct_stack(100, 2800), "tiffstack"), (multipage(200, 1024), "tiff")]  # fmt: skip
    reads = 3 if args.quick else args.reads
    results = []
    for path, backend in stacks:
        ours = ziggurat_reader(path, backend)
        anchor = memmap_reader(path)
        first = ours((slice(0, 1), slice(None), slice(None)))
        depth = len(sorted(path.glob("*.tif"))) if path.is_dir() else len(tifffile.TiffFile(path).pages)
        shape = (depth, first.shape[-2], first.shape[-1])
        for case, keys in cases(shape, np.random.default_rng(1), reads).items():
            assert np.array_equal(ours(keys[0]), anchor(keys[0])), f"{path.name} {case}: pixels differ"
            for tool, read in (("ziggurat", ours), ("tifffile memmap", anchor)):
                result = Result(f"{path.name} {case}", tool)
                result.seconds = time_calls(lambda i, read=read, keys=keys: read(keys[i]), reads, warmup=1)
                results.append(result)
            print(f"{path.name} {case} done", file=sys.stderr)
    print_table(results)
    return 0
