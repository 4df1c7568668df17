"""Which blosc codec the OME-Zarr writer should use: lz4hc-9, zstd-1, zstd-5 (byte shuffle) measured.

    python -m bench codecs            # MRI phantom, real MRI and CT, EM cubes of 240³ and 480³
    python -m bench codecs --quick    # small inputs, few reads (the test suite runs this)

Each volume is held in memory and written by the one writer (``build_pyramid``, level 0 only, so the
codec is all that differs), with convert's layout for the MRI/CT volumes (``halve="yx"``, whole-plane
shards, axial and 32³ chunks) and pyramid's for the EM cubes (64³ chunks). Reported: write time
(median of ``--repeat``), bytes on disk, and ziggurat's read time of an axial slice and of a random
64³ patch (median over fresh random positions, warm page cache). Every store is read back whole and
compared with the input before its numbers count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .harness import DATA_DIR

CODECS = ("lz4hc-9", "zstd-1", "zstd-5")
REALDATA = Path(os.environ.get("ZIGGURAT_REALDATA", "/work/shared/realdata"))


def volumes(quick: bool) -> list[tuple[str, np.ndarray, str, str | None]]:
    """(name, array, layout, chunk preset): the data the volumes and pyramid benchmarks use, plus real scans."""
    import ziggurat
    from ziggurat.testing.phantom import mri_volume

    from .pyramid import em_volume

    out: list[tuple[str, np.ndarray, str, str | None]] = []
    mri = mri_volume((20, 72, 80) if quick else (155, 240, 240))
    out += [("MRI phantom f32", mri, "convert", "axial"), ("MRI phantom f32", mri, "convert", "isotropic")]
    if not quick:
        for label, path in (("MRI MNI152", "nifti/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"),
                            ("CT GE i16", "dicom/series-ct-ge-tilt")):  # fmt: skip
            if (REALDATA / path).exists():
                data = ziggurat.open(REALDATA / path).to_numpy()
                out += [(label, data, "convert", "axial"), (label, data, "convert", "isotropic")]
    import zarr

    for edge in (96,) if quick else (240, 480):
        em = zarr.open_array(em_volume(edge), mode="r")[...]
        out.append((f"EM {edge}³ u8", em, "pyramid", None))
    return out


def write(data: np.ndarray, out: Path, layout: str, chunks: str | None, codec: str) -> float:
    from ziggurat.sources.base import Metadata
    from ziggurat.writers.omezarr.builder import MIN_LEVEL, SHARD_BYTES, build_pyramid

    shutil.rmtree(out, ignore_errors=True)
    meta = Metadata("array", "zyx", (1.0, 1.0, 1.0))
    start = time.perf_counter()
    if layout == "convert":
        build_pyramid(data, out, halve="yx", chunks=chunks, levels=1, min_size=MIN_LEVEL, shard_bytes=SHARD_BYTES,
                      compression=codec, meta=meta)  # fmt: skip
    else:
        build_pyramid(data, out, compression=codec, meta=meta)  # the whole pyramid, as `ziggurat pyramid` writes it
    return time.perf_counter() - start


def median_time(func: Callable[[int], object], n: int) -> float:
    func(0)
    times = []
    for i in range(n):
        start = time.perf_counter()
        func(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench codecs")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="writes per codec (median)")
    parser.add_argument("--reads", type=int, default=40, help="reads per operation (median)")
    args = parser.parse_args(argv)
    import ziggurat

    reads = 3 if args.quick else args.reads
    root = Path(tempfile.mkdtemp(prefix="codecs-", dir=DATA_DIR if DATA_DIR.is_dir() else None))
    print(f"cpus={os.cpu_count()}, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| volume | chunks | codec | write (s) | MB/s | bytes on disk | ratio | axial slice (ms) | 64³ patch (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for name, data, layout, chunks in volumes(args.quick):
            rng = np.random.default_rng(0)
            z, y, x = data.shape
            p = min(64, z, y, x)
            planes = rng.integers(0, z, reads + 1)
            corners = rng.integers(0, [z - p + 1, y - p + 1, x - p + 1], size=(reads + 1, 3))
            for codec in CODECS:
                out = root / f"{codec}.zarr"
                seconds = statistics.median(write(data, out, layout, chunks, codec) for _ in range(args.repeat))
                vol = ziggurat.open(out)
                if not np.array_equal(vol.to_numpy(), data):
                    raise AssertionError(f"{name} {codec}: the store does not read back as the input")
                axial = median_time(lambda i, v=vol, z=planes: v[int(z[i])], reads)
                boxes = [tuple(slice(int(c), int(c) + p) for c in corner) for corner in corners]
                patch = median_time(lambda i, v=vol, b=boxes: v[b[i]], reads)
                size = du(out)
                print(f"| {name} {data.shape} | {chunks or '64³'} | {codec} | {seconds:.3f} | "
                      f"{data.nbytes / seconds / 1e6:.0f} | {size:,} | {data.nbytes / size:.2f} | "
                      f"{axial * 1e3:.3f} | {patch * 1e3:.3f} |", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0
