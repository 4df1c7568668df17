"""Volumes: ziggurat's OME-Zarr (axial and isotropic chunks) vs RadiObject, nibabel, NumPy, TorchIO,
MONAI, zarr-python and tensorstore, on the same synthetic MRI (240x240x155 float32, and 4 channels).

    python -m bench volumes            # full size, the table in docs/benchmarks.md
    python -m bench volumes --quick    # tiny volume, few reads (the test suite runs this)

Operations: open, full load, axial slice, sagittal slice, random 64³ patch (timed on an open handle,
fresh random positions each call), ingest throughput and bytes on disk. zarr-python and tensorstore
read the very stores ziggurat wrote. TorchIO and MONAI can only load whole volumes, so each of their
reads is a full load plus indexing. Optional anchors (radiobject, torchio, monai, tensorstore) are
marked "skipped" when not installed; install torch from the CPU wheel first (``pip install
torch==2.13.0``), then ``pip install radiobject torchio monai tensorstore`` (radiobject 0.1.1 pulls
a botocore newer than aiobotocore/s3fs accept: ``pip install "botocore<1.43.118" "boto3<1.44"``
restores it). They are not in the ``bench`` extra: torchio/monai would pull a CUDA torch on a fresh
machine, and radiobject's boto3 conflicts with the ``distributed`` extra.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .harness import DATA_DIR, Result, ms, time_calls

Read = Callable[[Any, slice, slice, slice], np.ndarray]
ALL = slice(None)


class Tool:
    """One reader on one stored copy: ``open()`` a handle, ``read(h, z, y, x)`` spatial slices.

    ``order`` is how its arrays come back: "zyx" ([c,] z, y, x), "xyz" (x, y, z[, c]) or "cxyz".
    """

    def __init__(self, name: str, path: Path, open_: Callable[[], Any], read: Read, full: Callable[[Any], Any],
                 order: str = "zyx", has_open: bool = True) -> None:  # fmt: skip
        self.name, self.path, self.open, self.read, self.full = name, path, open_, read, full
        self.order, self.has_open = order, has_open

    def as_zyx(self, array: np.ndarray) -> np.ndarray:
        """A returned array in ziggurat's axis order."""
        if self.order == "xyz":
            return array.T
        if self.order == "cxyz":
            out = array.transpose(0, 3, 2, 1)
            return out[0] if out.shape[0] == 1 else out
        return array


def _zyx(array_like, z: slice, y: slice, x: slice, ndim: int):
    return array_like[(ALL,) * (ndim - 3) + (z, y, x)]


def _xyz(array_like, z: slice, y: slice, x: slice, ndim: int):
    return array_like[(x, y, z) + (ALL,) * (ndim - 3)]


def write_all(data: np.ndarray, root: Path, compression: str) -> tuple[list[Tool], dict[str, tuple[float, Path]]]:
    """Write every format once (timed), and return the readers for each stored copy."""
    import ziggurat
    from ziggurat.writers.convert import to_omezarr

    ndim = data.ndim
    volume = ziggurat.from_array(data, axes="zyx" if ndim == 3 else "czyx")
    writes: dict[str, tuple[float, Path]] = {}

    def timed(name: str, path: Path, write: Callable[[], object]) -> None:
        start = time.perf_counter()
        write()
        writes[name] = (time.perf_counter() - start, path)

    tools: list[Tool] = []
    for preset in ("axial", "isotropic"):
        store = root / f"{preset}.zarr"
        timed(f"ziggurat {preset}", store, lambda s=store, p=preset: to_omezarr(volume, s, chunks=p, levels=1,
                                                                              compression=compression))  # fmt: skip
        tools += _zarr_tools(preset, store, ndim)

    nib = _optional("nibabel")
    xyz = np.ascontiguousarray(data.T)  # NIfTI / radiobject order: (x, y, z[, c])
    for suffix in (".nii", ".nii.gz"):
        path = root / f"mri{suffix}"
        timed(f"nibabel {suffix}", path, lambda p=path: nib.save(nib.Nifti1Image(xyz, np.eye(4)), p))
        tools.append(Tool(f"nibabel {suffix}", path, lambda p=path: nib.load(p),
                          lambda h, z, y, x: np.asarray(_xyz(h.dataobj, z, y, x, ndim)),
                          lambda h: np.array(h.dataobj), order="xyz"))  # fmt: skip
    npy = root / "mri.npy"
    timed("numpy .npy", npy, lambda: np.save(npy, data))
    tools.append(Tool("numpy .npy", npy, lambda: np.load(npy, mmap_mode="r"),
                      lambda h, z, y, x: np.array(_zyx(h, z, y, x, ndim)), lambda h: np.array(h)))  # fmt: skip
    tools += _radiobject_tools(xyz, root, writes, timed)
    gz = root / "mri.nii.gz"
    tools += _torch_tools(gz, ndim)
    return tools, writes


def _optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


def _zarr_tools(preset: str, store: Path, ndim: int) -> list[Tool]:
    import zarr

    import ziggurat

    tools = [
        Tool(f"ziggurat {preset}", store, lambda: ziggurat.open(store),
             lambda h, z, y, x: _zyx(h, z, y, x, ndim), lambda h: h.to_numpy()),
        Tool(f"zarr-python {preset}", store, lambda: zarr.open_array(store / "0", mode="r"),
             lambda h, z, y, x: _zyx(h, z, y, x, ndim), lambda h: h[...]),
    ]  # fmt: skip
    ts = _optional("tensorstore")
    if ts is not None:
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(store / "0")}}
        tools.append(Tool(f"tensorstore {preset}", store, lambda: ts.open(spec).result(),
                          lambda h, z, y, x: _zyx(h, z, y, x, ndim).read().result(),
                          lambda h: h.read().result()))  # fmt: skip
    return tools


def _radiobject_tools(xyz: np.ndarray, root: Path, writes: dict, timed: Callable) -> list[Tool]:
    radiobject = _optional("radiobject")
    if radiobject is None:
        return []
    from radiobject.ctx import SliceOrientation, TileConfig, WriteConfig

    tools = []
    for orientation in (SliceOrientation.AXIAL, SliceOrientation.ISOTROPIC):
        uri = str(root / f"radiobject-{orientation.value}")
        radiobject.configure(write=WriteConfig(tile=TileConfig(orientation=orientation)))
        timed(f"radiobject {orientation.value}", Path(uri), lambda u=uri: radiobject.Volume.from_numpy(u, xyz))
        tools.append(Tool(f"radiobject {orientation.value}", Path(uri), lambda u=uri: radiobject.Volume(u),
                          lambda h, z, y, x: h[(x, y, z)], lambda h: h.to_numpy(), order="xyz"))  # fmt: skip
    return tools


def _torch_tools(gz: Path, ndim: int) -> list[Tool]:
    tools = []
    tio = _optional("torchio")
    if tio is not None:  # ScalarImage wants (C, x, y, z): a 4-D NIfTI's last axis becomes C
        tools.append(Tool("torchio .nii.gz", gz, lambda: gz,
                          lambda h, z, y, x: _torch_xyz(tio.ScalarImage(h).data.numpy(), z, y, x),
                          lambda h: tio.ScalarImage(h).data.numpy(), order="cxyz", has_open=False))  # fmt: skip
    if _optional("monai") is not None:
        from monai.transforms import LoadImage

        load = LoadImage(image_only=True)
        tools.append(Tool("monai .nii.gz", gz, lambda: gz,
                          lambda h, z, y, x: np.asarray(_xyz(load(h), z, y, x, ndim)),
                          lambda h: np.asarray(load(h)), order="xyz", has_open=False))  # fmt: skip
    return tools


def _torch_xyz(chw: np.ndarray, z: slice, y: slice, x: slice) -> np.ndarray:
    return chw[:, x, y, z]


def du(path: Path) -> int:
    """Bytes on disk of a file or a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_reads(tools: list[Tool], shape: tuple[int, ...], reps: int, budget: float) -> list[Result]:
    """Time every operation of every tool; slow tools get fewer repetitions (at least 3)."""
    z, y, x = shape[-3:]
    rng = np.random.default_rng(0)
    p = min(64, z, y, x)
    corners = rng.integers(0, [z - p + 1, y - p + 1, x - p + 1], size=(reps, 3))
    planes = rng.integers(0, [z, x], size=(reps, 2))
    results = []
    for tool in tools:
        handle = tool.open()
        ops: dict[str, Callable[[int], object]] = {
            "open": lambda i, t=tool: t.open(),
            "full load": lambda i, t=tool, h=handle: t.full(h),
            "axial slice": lambda i, t=tool, h=handle: t.read(h, slice(planes[i, 0], planes[i, 0] + 1), ALL, ALL),
            "sagittal slice": lambda i, t=tool, h=handle: t.read(h, ALL, ALL, slice(planes[i, 1], planes[i, 1] + 1)),
            f"random {p}³ patch": lambda i, t=tool, h=handle: t.read(h, *(slice(c, c + p) for c in corners[i])),
        }
        if not tool.has_open:
            del ops["open"]
        for op, func in ops.items():
            start = time.perf_counter()
            func(0)
            first = time.perf_counter() - start
            n = max(3, min(reps, int(budget / max(first, 1e-6))))
            results.append(Result(op, tool.name, time_calls(func, n, warmup=1)))
    return results


def check_agreement(tools: list[Tool], data: np.ndarray) -> None:
    """Every tool returns the input's voxels for one patch and for a full load (guards against
    benchmarking wrong reads, and against a writer that stores the wrong pixels)."""
    z, y, x = (min(8, n) for n in data.shape[-3:])
    expected = data[..., 1:z, 2:y, 3:x]
    for tool in tools:
        handle = tool.open()
        got = tool.as_zyx(np.asarray(tool.read(handle, slice(1, z), slice(2, y), slice(3, x))))
        if got.shape != expected.shape or not np.array_equal(got, expected):
            raise AssertionError(f"{tool.name} read different voxels")
        full = tool.as_zyx(np.asarray(tool.full(handle)))
        if full.shape != data.shape or not np.array_equal(full, data):
            raise AssertionError(f"{tool.name}: a full load differs from the input")


def table(results: list[Result]) -> str:
    """Markdown: p50/p95 per case and tool, and ratios to both ziggurat presets (anchor / ziggurat)."""
    ours = {(r.case, r.tool): r.p50 for r in results if r.tool.startswith("ziggurat")}
    lines = ["| case | tool | p50 (ms) | p95 (ms) | / ziggurat axial | / ziggurat isotropic |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        ratios = [f"{r.p50 / ours[(r.case, f'ziggurat {p}')]:.1f}x" for p in ("axial", "isotropic")]
        lines.append(f"| {r.case} | {r.tool} | {ms(r.p50)} | {ms(r.p95)} | {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def write_table(writes: dict[str, tuple[float, Path]], raw_bytes: int) -> str:
    gz = du(writes["nibabel .nii.gz"][1])
    lines = ["| format | write (s) | ingest (MB/s) | bytes on disk | / .nii.gz |", "|---|---|---|---|---|"]
    for name, (seconds, path) in writes.items():
        size = du(path)
        lines.append(f"| {name} | {seconds:.3f} | {raw_bytes / seconds / 1e6:.0f} | {size:,} | {size / gz:.2f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench volumes")
    parser.add_argument("--quick", action="store_true", help="tiny volume and few reads")
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--compression", default="lz4hc-9", help="ziggurat store codec: lz4hc-9, zstd-1 or zstd-5")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timing per operation and tool")
    args = parser.parse_args(argv)
    from ziggurat.testing.phantom import mri_volume

    shape, reps, budget = ((20, 72, 80), 3, 0.2) if args.quick else ((155, 240, 240), args.reps, args.budget)
    missing = [m for m in ("radiobject", "torchio", "monai", "tensorstore") if _optional(m) is None]
    root = Path(tempfile.mkdtemp(prefix="volumes-", dir=DATA_DIR if DATA_DIR.is_dir() else None))
    try:
        for label, data in (("3-D", mri_volume(shape)), ("4-D (4 channels)", mri_volume(shape, channels=4))):
            load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
            print(f"\n## {label} {data.shape} {data.dtype}, cpus={os.cpu_count()}, load average {load}\n")
            case_dir = root / label[:3]
            case_dir.mkdir()
            tools, writes = write_all(data, case_dir, args.compression)
            check_agreement(tools, data)
            print(table(run_reads(tools, data.shape, reps, budget)))
            print()
            print(write_table(writes, data.nbytes))
        print(f"\nskipped (not installed): {', '.join(missing) or 'none'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0
