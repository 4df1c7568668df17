"""``ziggurat pyramid INPUT OUT.zarr``: a multiscale OME-Zarr from any image, volume, Zarr array or N5."""

from __future__ import annotations

import argparse
import time

from ..io.sizes import SizeError, parse_size
from ..writers.omezarr.ngff import COMPRESSIONS, PYRAMID_COMPRESSION


def parse_bytes(text: str) -> int:
    """``--memory``: :func:`ziggurat.io.sizes.parse_size`, with argparse's error message."""
    try:
        return parse_size(text)
    except SizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("pyramid", help="build a multiscale OME-Zarr, out of core (local or Dask)")
    parser.add_argument("input", help="a slide, volume, TIFF stack, OME-Zarr, Zarr v2/v3 array or N5 (path or URL)")
    parser.add_argument("out", help="OUT.zarr (NGFF 0.5, sharded Zarr v3)")
    parser.add_argument("--method", choices=("mean", "mode", "nearest"), default="mean",
                        help="mean for intensities, mode for label volumes")  # fmt: skip
    parser.add_argument(
        "--memory", type=parse_bytes, default=None, help="pixel memory budget (default: half the available)"
    )
    parser.add_argument("--scheduler", default=None, help="a Dask scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--workers", type=int, default=None, help="local threads (default: all cores)")
    parser.add_argument("--compression", choices=tuple(COMPRESSIONS), default=PYRAMID_COMPRESSION,
                        help="blosc codec of the chunks: zstd-1 (default), zstd-5 or lz4hc-9")  # fmt: skip
    parser.add_argument("--no-overwrite", action="store_true", help="fail if OUT exists")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> None:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from ..writers.omezarr.builder import build_pyramid

    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), transient=True) as bar:  # fmt: skip
        task = bar.add_task(f"building {args.out}", total=None)
        build_pyramid(args.input, args.out, method=args.method, memory=args.memory, client=args.scheduler,
                      workers=args.workers, overwrite=not args.no_overwrite, compression=args.compression,
                      progress=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    print(f"wrote {args.out} in {time.perf_counter() - start:.2f} s")
