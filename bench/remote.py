"""Object storage: slides and volumes read from a loopback S3 (moto) behind a latency-injecting proxy.

    python -m bench remote            # 40000x30000 slide, 155x240x240 float32 volume; docs/benchmarks.md
    python -m bench remote --quick    # tiny data, few reads (the test suite runs this)

The proxy (ziggurat.testing.netproxy) adds ``--latency`` seconds to every request's round trip and
paces response bodies to ``--bandwidth`` bytes/s shared by all connections (this kernel has no
``tc netem``). Every tool reads the same objects through it; each row gives the median time, and
the median requests and bytes one call costs. Slides: ziggurat vs tiffslide on fsspec (s3fs).
DICOM WSI: a generated JPEG series opened by prefix and by instance URL (ziggurat only; no other
tool reads it from S3), beside the local open. Volumes: ziggurat vs zarr-python on FsspecStore and
on ObjectStore (obstore), and tensorstore's s3 driver, all reading the OME-Zarr store ziggurat
wrote. Backends: the same random ranged reads through obstore and s3fs (why the io layer uses
obstore).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .harness import DATA_DIR, Result, sample_slide

Call = Callable[[int], Any]


def measure(proxy: Any, case: str, tool: str, func: Call, n: int) -> Result:
    """``func(i)`` n times (after one warm-up call), each timed with its requests and bytes counted."""
    func(-1)
    seconds, requests, nbytes = [], [], []
    for i in range(n):
        proxy.reset()
        start = time.perf_counter()
        func(i)
        seconds.append(time.perf_counter() - start)
        stats = proxy.reset()
        requests.append(stats.total)
        nbytes.append(stats.body_bytes)
    return Result(case, tool, seconds, {"requests": statistics.median(requests), "bytes": statistics.median(nbytes)})


def table(results: list[Result], latency: float) -> str:
    lines = ["| case | tool | p50 (ms) | requests | MB fetched | round trips (p50 / latency) | / ziggurat |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    ours = {r.case: r.p50 for r in results if r.tool.startswith("ziggurat")}
    for r in results:
        ratio = "" if r.tool.startswith("ziggurat") or r.case not in ours else f"{r.p50 / ours[r.case]:.2f}x"
        trips = f"{r.p50 / latency:.1f}" if latency else ""
        lines.append(f"| {r.case} | {r.tool} | {r.p50 * 1000:.1f} | {r.extra['requests']:g} | "
                     f"{float(r.extra['bytes']) / 1e6:.2f} | {trips} | {ratio} |")  # fmt: skip
    return "\n".join(lines)


def s3fs_options(s3: Any) -> dict[str, Any]:
    from ziggurat.testing.s3 import CREDENTIALS

    return {"key": CREDENTIALS["access_key_id"], "secret": CREDENTIALS["secret_access_key"],
            "client_kwargs": {"endpoint_url": s3.endpoint, "region_name": CREDENTIALS["region"]}}  # fmt: skip


def slide_cases(s3: Any, url: str, size: tuple[int, int], n: int) -> list[Result]:
    import tiffslide

    import ziggurat
    from ziggurat.io.opening import forget

    options = s3.storage_options
    rng = random.Random(7)
    width, height = size

    def spot(side: int) -> tuple[int, int]:
        return rng.randrange(0, width - side), rng.randrange(0, height - side)

    def z_open(i: int) -> Any:
        forget()
        return ziggurat.open(url, storage_options=options, decoded_cache=False)

    def t_open(i: int) -> Any:
        return tiffslide.TiffSlide(url, storage_options=s3fs_options(s3))

    ours, theirs = z_open(0), t_open(0)
    results = [measure(s3.proxy, "slide open", "ziggurat", z_open, n),
               measure(s3.proxy, "slide open", "tiffslide (fsspec)", t_open, n)]  # fmt: skip
    for side in (256, 1024):
        results.append(measure(s3.proxy, f"random {side}² region", "ziggurat",
                               lambda i, s=side: ours.read_region(spot(s), 0, (s, s)), n))  # fmt: skip
        results.append(measure(s3.proxy, f"random {side}² region", "tiffslide (fsspec)",
                               lambda i, s=side: theirs.read_region(spot(s), 0, (s, s)), n))  # fmt: skip
    return results


def dicom_cases(s3: Any, folder: Path, size: tuple[int, int], n: int) -> list[Result]:
    """A DICOM WSI series (one object per level, label, macro) opened by prefix and by instance URL,
    and random regions; the local folder's open beside it (no other tool reads DICOM WSI from S3)."""
    import ziggurat
    from ziggurat.io.opening import forget

    url = s3.upload(folder, "dicom/series")
    options = s3.storage_options
    rng = random.Random(11)
    width, height = size

    def z_open(target: str) -> Call:
        def call(i: int) -> Any:
            forget()
            return ziggurat.open(target, storage_options=options, decoded_cache=False)

        return call

    ours = z_open(f"{url}/")(0)
    results = [
        measure(s3.proxy, "DICOM WSI open (prefix)", "ziggurat", z_open(f"{url}/"), n),
        measure(s3.proxy, "DICOM WSI open (instance URL)", "ziggurat", z_open(f"{url}/level0-1.dcm"), n),
        measure(s3.proxy, "DICOM WSI open (local folder)", "ziggurat local", lambda i: ziggurat.open(folder), n),
    ]

    def region(side: int) -> Call:
        return lambda i: ours.read_region(
            (rng.randrange(0, width - side), rng.randrange(0, height - side)), 0, (side, side)
        )

    for side in (256, 1024):
        results.append(measure(s3.proxy, f"DICOM WSI random {side}² region", "ziggurat", region(side), n))
    return results


def volume_tools(s3: Any, key: str) -> dict[str, tuple[Callable[[], Any], Callable[[Any, tuple[slice, ...]], Any]]]:
    """name -> (open a handle to the level-0 array, read(handle, index))."""
    import zarr
    from obstore.store import S3Store

    import ziggurat
    from ziggurat.io.opening import forget
    from ziggurat.testing.s3 import CREDENTIALS

    url = s3.url(key)

    def z_open() -> Any:
        forget()
        return ziggurat.open(url, storage_options=s3.storage_options).levels[0]

    def fsspec_open() -> Any:
        return zarr.open_array(f"{url}/0", mode="r", storage_options=s3fs_options(s3))

    def obstore_open() -> Any:
        store = S3Store(s3.bucket, endpoint=s3.endpoint, access_key_id=CREDENTIALS["access_key_id"],
                        secret_access_key=CREDENTIALS["secret_access_key"], region=CREDENTIALS["region"],
                        client_options={"allow_http": True})  # fmt: skip
        return zarr.open_array(zarr.storage.ObjectStore(store, read_only=True), path=f"{key}/0", mode="r")

    def ts_open() -> Any:
        import tensorstore as ts

        spec = {"driver": "zarr3", "kvstore": {"driver": "s3", "bucket": s3.bucket, "path": f"{key}/0/",
                "endpoint": s3.endpoint, "aws_region": CREDENTIALS["region"],
                "aws_credentials": {"type": "environment"}}}  # fmt: skip
        return ts.open(spec, read=True).result()

    def read_np(handle: Any, index: tuple[slice, ...]) -> Any:
        return np.asarray(handle[index])

    tools = {"ziggurat": (z_open, read_np), "zarr-python FsspecStore": (fsspec_open, read_np),
             "zarr-python ObjectStore": (obstore_open, read_np)}  # fmt: skip
    try:
        import tensorstore  # noqa: F401

        tools["tensorstore s3"] = (ts_open, lambda h, index: h[index].read().result())
    except ImportError:
        pass
    return tools


def volume_cases(s3: Any, key: str, data: np.ndarray, n: int) -> list[Result]:
    rng = random.Random(11)
    nz = data.shape[0]
    results = []
    for name, (open_, read) in volume_tools(s3, key).items():
        handle = open_()
        index = (slice(3, 11), slice(5, 21), slice(7, 30))
        if not np.array_equal(np.asarray(read(handle, index)), data[index]):
            raise AssertionError(f"{name} read different voxels")

        def patch(i: int, h: Any = handle, r: Any = read) -> Any:
            return r(
                h, tuple(slice(a, a + min(64, s)) for a, s in ((rng.randrange(max(1, s - 63)), s) for s in data.shape))
            )

        results += [
            measure(s3.proxy, "volume open", name, lambda i, o=open_: o(), n),
            measure(s3.proxy, "axial slice", name,
                    lambda i, h=handle, r=read: r(h, (rng.randrange(nz), slice(None), slice(None))), n),
            measure(s3.proxy, "random 64³ patch", name, patch, n),
            measure(s3.proxy, "full load", name, lambda i, h=handle, r=read: r(h, (slice(None),) * 3), max(3, n // 4)),
        ]  # fmt: skip
    return sorted(results, key=lambda r: ["volume open", "axial slice", "random 64³ patch", "full load"].index(r.case))


def backend_cases(s3: Any, key: str, size: int, n: int) -> list[Result]:
    """16 random 256 KiB ranges of one object in one call: obstore's get_ranges vs s3fs's cat_ranges."""
    import obstore
    import s3fs
    from obstore.store import S3Store

    from ziggurat.testing.s3 import CREDENTIALS

    rng = random.Random(5)
    length = min(262144, size // 4)  # 256 KiB (less for the --quick slide)
    store = S3Store(s3.bucket, endpoint=s3.endpoint, access_key_id=CREDENTIALS["access_key_id"],
                    secret_access_key=CREDENTIALS["secret_access_key"], region=CREDENTIALS["region"],
                    client_options={"allow_http": True})  # fmt: skip
    fs = s3fs.S3FileSystem(**s3fs_options(s3))

    def starts() -> list[int]:
        return sorted(rng.randrange(0, size - length) for _ in range(16))

    def via_obstore(i: int) -> Any:
        return obstore.get_ranges(store, key, starts=starts(), lengths=[length] * 16, coalesce=0)

    def via_s3fs(i: int) -> Any:
        s = starts()
        return fs.cat_ranges([f"{s3.bucket}/{key}"] * 16, s, [a + length for a in s])

    return [measure(s3.proxy, "16 random 256 KiB ranges", "obstore", via_obstore, n),
            measure(s3.proxy, "16 random 256 KiB ranges", "s3fs", via_s3fs, n)]  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench remote")
    parser.add_argument("--quick", action="store_true", help="tiny data and few reads")
    parser.add_argument("--latency", type=float, default=0.020, help="seconds added to each request round trip")
    parser.add_argument("--bandwidth", type=float, default=100e6, help="bytes/s shared by all connections")
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args(argv)
    import ziggurat
    from ziggurat.testing.dicomwsi import slide_pixels, write_dicom_wsi
    from ziggurat.testing.phantom import mri_volume
    from ziggurat.testing.s3 import LocalS3
    from ziggurat.writers.convert import to_omezarr

    size, shape, n = ((1280, 1152), (20, 72, 80), 3) if args.quick else ((40000, 30000), (155, 240, 240), args.reps)
    root = Path(tempfile.mkdtemp(prefix="remote-", dir=DATA_DIR if DATA_DIR.is_dir() else None))
    try:
        slide = sample_slide(*size)
        dicom_size = (1536, 1280) if args.quick else (8192, 6144)
        dicom = root / "dicom"
        write_dicom_wsi(dicom, slide_pixels(dicom_size[1], dicom_size[0]), levels=4, tile=256)
        data = mri_volume(shape)
        store = to_omezarr(ziggurat.from_array(data, axes="zyx", spacing=(1.0, 1.0, 1.0)), root / "mri.zarr",
                           chunks=(64, 64, 64))  # fmt: skip
        with LocalS3(latency=args.latency, bandwidth=args.bandwidth) as s3:
            os.environ.update(s3.environment())  # tensorstore reads credentials from the environment
            url = s3.upload(slide, "slides/slide.tif")
            s3.upload(store, "volumes/mri.zarr")
            print(f"\n## slide {size[0]}x{size[1]} ({slide.stat().st_size / 1e6:.0f} MB), volume {data.shape} "
                  f"{data.dtype}; latency {args.latency * 1000:g} ms per request, bandwidth "
                  f"{args.bandwidth / 1e6:g} MB/s; cpus={os.cpu_count()}, load {os.getloadavg()[0]:.1f}\n")  # fmt: skip
            results = slide_cases(s3, url, size, n)
            results += volume_cases(s3, "volumes/mri.zarr", data, n)
            results += backend_cases(s3, "slides/slide.tif", slide.stat().st_size, n)
            results += dicom_cases(s3, dicom, dicom_size, n)
            print(table(results, args.latency))
            floor = data.nbytes / args.bandwidth
            print(f"\nfull-load floor at the capped bandwidth: {floor * 1000:.0f} ms (uncompressed bytes)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0
