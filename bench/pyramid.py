"""Multiscale pyramids of EM-like uint8 volumes: ziggurat vs naive Dask (threads, LocalCluster) vs tensorstore.

    python -m bench pyramid                      # ~14 MB, ~110 MB, ~880 MB, ~3.5 GB (64^3 chunks)
    python -m bench pyramid --sizes 240,480      # edges of the cubes to run
    python -m bench pyramid --quick              # a 96^3 cube (the test suite runs this)

``ziggurat-localcluster`` is the same build with its block tasks on a 2-worker LocalCluster
(``build_pyramid(..., client=client)``), to compare with the naive pipeline on the same cluster.

Every tool reads the same Zarr v3 input (64^3 chunks, blosc zstd 1) and writes every level, level 0
included, with the same codec; each run is a fresh subprocess so peak RSS is its own (LocalCluster:
the largest of the client and its worker processes). MB/s is input bytes over wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .harness import DATA_DIR, Result

SIZES = (240, 480, 960, 1520)  # 13.8 MB, 111 MB, 885 MB, 3.51 GB of uint8
TOOLS = ("ziggurat", "ziggurat-localcluster", "dask-threads", "dask-localcluster", "tensorstore")
CHUNK = 64
TEXTURE = 128


def em_volume(edge: int) -> Path:
    """An EM-like uint8 cube (membranes, organelles, shot noise) as a Zarr v3 array, made once and reused."""
    import zarr
    from zarr.codecs import BloscCodec

    path = DATA_DIR / f"em-{edge}.zarr"
    if (path / "zarr.json").is_file():
        return path
    rng = np.random.default_rng(edge)
    field = np.fft.irfftn(np.fft.rfftn(rng.standard_normal((TEXTURE,) * 3)) * _lowpass(TEXTURE, 6.0), s=(TEXTURE,) * 3)
    field = (field - field.min()) / np.ptp(field)
    membranes = np.exp(-(((field * 7) % 1 - 0.5) ** 2) / 0.004)
    texture = np.clip(170 + 50 * field - 110 * membranes, 0, 255).astype(np.uint8)
    tmp = path.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    array = zarr.create_array(tmp, shape=(edge,) * 3, dtype=np.uint8, chunks=(CHUNK,) * 3,
                              compressors=BloscCodec(cname="zstd", clevel=1, shuffle="noshuffle"))  # fmt: skip
    yx = np.arange(edge) % TEXTURE
    for z in range(0, edge, CHUNK):
        zs = np.arange(z, min(z + CHUNK, edge)) % TEXTURE
        slab = texture[zs][:, yx][:, :, (yx * 3 + z) % TEXTURE]
        slab = slab + rng.integers(0, 24, slab.shape, dtype=np.uint8)
        array[z : z + len(zs)] = slab
    tmp.rename(path)
    return path


def _lowpass(n: int, scale: float) -> np.ndarray:
    f = np.fft.fftfreq(n)
    fz, fy, fx = np.meshgrid(f, f, np.fft.rfftfreq(n), indexing="ij")
    return np.exp(-(fz**2 + fy**2 + fx**2) * scale**2 * 2 * np.pi**2)


# -- the tools (each runs in its own subprocess: python -m bench pyramid --run TOOL IN OUT) ----------
def run_ziggurat(src: Path, out: Path) -> None:
    from ziggurat.writers.omezarr.builder import build_pyramid

    build_pyramid(src, out)


def run_ziggurat_localcluster(src: Path, out: Path) -> None:
    """The same build, its block tasks sent to a 2-worker (1 thread each) LocalCluster."""
    from distributed import Client, LocalCluster

    from ziggurat.writers.omezarr.builder import build_pyramid

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:  # fmt: skip
        build_pyramid(src, out, client=client)


def _level_shapes(shape: tuple[int, ...]) -> int:
    levels = 1
    while max(shape) > CHUNK:
        shape = tuple((n + 1) // 2 for n in shape)
        levels += 1
    return levels


def _naive_dask(src: Path, out: Path) -> None:
    """The pipeline from the field report: from_zarr -> coarsen(np.mean) -> to_zarr, level by level."""
    import dask.array as da
    import zarr
    from zarr.codecs import BloscCodec

    root = zarr.open_group(out, mode="w", zarr_format=3)
    level = da.from_zarr(str(src))
    for i in range(_level_shapes(level.shape)):
        if i:
            level = da.coarsen(np.mean, da.from_zarr(str(out / str(i - 1))), {0: 2, 1: 2, 2: 2}, trim_excess=True)
            level = level.astype(np.uint8).rechunk(CHUNK)
        stored = root.create_array(str(i), shape=level.shape, dtype=np.uint8, chunks=(CHUNK,) * 3,
                                   compressors=BloscCodec(cname="zstd", clevel=1, shuffle="noshuffle"))  # fmt: skip
        da.store(level, stored, lock=False, compute=True)


def run_dask_threads(src: Path, out: Path) -> None:
    import dask

    with dask.config.set(scheduler="threads"):
        _naive_dask(src, out)


def run_dask_localcluster(src: Path, out: Path) -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):  # fmt: skip
        _naive_dask(src, out)


def run_tensorstore(src: Path, out: Path) -> None:
    """tensorstore: copy level 0, then write ts.downsample(previous level, 2, "mean") per level."""
    import tensorstore as ts

    blosc = {"cname": "zstd", "clevel": 1, "shuffle": "noshuffle", "typesize": 1}
    codecs = [{"name": "bytes"}, {"name": "blosc", "configuration": blosc}]
    previous = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(src)}}, read=True).result()
    for i in range(_level_shapes(tuple(previous.shape))):
        data = previous if i == 0 else ts.downsample(previous, [2, 2, 2], method="mean")
        grid = {"name": "regular", "configuration": {"chunk_shape": [CHUNK] * 3}}
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(out / str(i))},
                "metadata": {"shape": list(data.shape), "data_type": "uint8", "codecs": codecs,
                             "chunk_grid": grid}}  # fmt: skip
        dst = ts.open(spec, create=True, delete_existing=True).result()
        dst.write(data).result()
        previous = dst


RUNNERS = {"ziggurat": run_ziggurat, "ziggurat-localcluster": run_ziggurat_localcluster,
           "dask-threads": run_dask_threads, "dask-localcluster": run_dask_localcluster,
           "tensorstore": run_tensorstore}  # fmt: skip


def _child(tool: str, src: Path, out: Path) -> None:
    import re
    import resource

    start = time.perf_counter()
    RUNNERS[tool](src, out)
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # VmHWM: ru_maxrss would also count the parent's high-water mark from before the exec
    own = int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": max(own, children)}))


def verify(tool: str, src: Path, out: Path) -> int:
    """Check one tool's output against the input: level 0 equal, each next level within 1 of the float
    2x2x2 mean of the level above it (the tools round differently: half up, half to even, truncation).
    Returns the number of levels; raises AssertionError naming the tool and level otherwise."""
    import zarr

    previous = zarr.open_array(src, mode="r")
    n = _level_shapes(tuple(previous.shape))
    for i in range(n):
        level = zarr.open_array(out / str(i), mode="r")
        ceil = previous.shape if i == 0 else tuple((s + 1) // 2 for s in previous.shape)
        floor = previous.shape if i == 0 else tuple(s // 2 for s in previous.shape)  # dask's trim_excess
        if tuple(level.shape) not in (ceil, floor):
            raise AssertionError(f"{tool}: level {i} has shape {level.shape}, expected {ceil}")
        for z in range(0, level.shape[0], CHUNK // 2):  # slabs: a 960³ level 0 in float is 3.5 GB
            got = level[z : z + CHUNK // 2].astype(np.float32)
            if i == 0:
                if not np.array_equal(got, previous[z : z + CHUNK // 2]):
                    raise AssertionError(f"{tool}: level 0 differs from the input at z >= {z}")
                continue
            above = previous[2 * z : 2 * z + CHUNK].astype(np.float32)
            full = (-(-above.shape[0] // 2), *ceil[1:])
            pad = [(0, 2 * f - a) for f, a in zip(full, above.shape, strict=True)]
            ref = np.pad(above, pad, mode="edge").reshape(full[0], 2, full[1], 2, full[2], 2).mean(axis=(1, 3, 5))
            ref = ref[tuple(slice(0, g) for g in got.shape)]
            worst = float(np.abs(got - ref).max())
            if worst > 1.0:
                raise AssertionError(f"{tool}: level {i} is {worst:.2f} off the 2x2x2 mean of level {i - 1}")
        previous = level
    return n


def measure(tool: str, src: Path, repeat: int) -> Result:
    """Run ``tool`` ``repeat`` times in fresh subprocesses on a warm page cache; verify the last output."""
    out = DATA_DIR / f"out-{tool}.zarr"
    result = Result(src.name, tool)
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        done = subprocess.run([sys.executable, "-m", "bench", "pyramid", "--run", tool, str(src), str(out)],
                              check=True, capture_output=True, text=True)  # fmt: skip
        report = json.loads(done.stdout.strip().splitlines()[-1])
        result.seconds.append(report["seconds"])
        result.extra["peak_rss_mb"] = max(float(result.extra.get("peak_rss_mb", 0)), report["peak_rss_mb"])
    result.extra["levels"] = verify(tool, src, out)
    shutil.rmtree(out, ignore_errors=True)
    return result


def table(results: list[Result], nbytes: dict[str, int]) -> str:
    lines = ["| input | tool | wall (s) | MB/s | peak RSS (MB) | ziggurat speed-up | levels verified |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    ours = {r.case: r.p50 for r in results if r.tool == "ziggurat"}
    for r in results:
        mbs = nbytes[r.case] / 1e6 / r.p50
        ratio = "" if r.tool == "ziggurat" else f"{r.p50 / ours[r.case]:.2f}x"
        lines.append(f"| {r.case} ({nbytes[r.case] / 1e6:.0f} MB) | {r.tool} | {r.p50:.2f} | {mbs:.0f} | "
                     f"{float(r.extra['peak_rss_mb']):.0f} | {ratio} | {r.extra['levels']} |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench pyramid")
    parser.add_argument("--quick", action="store_true", help="one 96^3 cube, one run per tool")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="cube edges, comma-separated")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--run", nargs=3, metavar=("TOOL", "IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        _child(args.run[0], Path(args.run[1]), Path(args.run[2]))
        return 0
    sizes = [96] if args.quick else [int(s) for s in args.sizes.split(",")]
    results, nbytes = [], {}
    for edge in sizes:
        src = em_volume(edge)
        nbytes[src.name] = edge**3
        for tool in args.tools.split(","):
            results.append(measure(tool, src, args.repeat))
            print(f"{src.name} {tool}: {results[-1].p50:.2f} s", file=sys.stderr)
    table(results, nbytes)
    return 0
