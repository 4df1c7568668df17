"""``ziggurat pyramid INPUT OUTPUT.zarr``: a multiscale OME-Zarr from any image, volume, Zarr array or N5."""

from __future__ import annotations

import argparse

from ..io.sizes import SizeError, parse_size
from ..writers.omezarr.ngff import COMPRESSIONS, PYRAMID_COMPRESSION
from .grammar import (
    Run,
    add_spacing_options,
    add_threads,
    add_writer_options,
    check_suffix,
    progress_bar,
    refuse_existing,
)


def parse_bytes(text: str) -> int:
    """``--memory``: :func:`ziggurat.io.sizes.parse_size`, with argparse's error message."""
    try:
        return parse_size(text)
    except SizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("pyramid", help="build a multiscale OME-Zarr, out of core (local or Dask)")
    parser.add_argument("input", help="a slide, volume, TIFF stack, OME-Zarr, Zarr v2/v3 array or N5 (path or URL)")
    parser.add_argument("output", help="OUTPUT.zarr (NGFF 0.5, sharded Zarr v3)")
    parser.add_argument("--method", choices=("mean", "mode", "nearest"), default="mean",
                        help="mean for intensities, mode for label volumes")  # fmt: skip
    parser.add_argument(
        "--memory", type=parse_bytes, default=None, help="pixel memory budget (default: half the available)"
    )
    parser.add_argument("--scheduler", default=None, help="a Dask scheduler address, e.g. tcp://host:8786")
    add_threads(parser, "local threads")
    parser.add_argument("--compression", choices=tuple(COMPRESSIONS), default=PYRAMID_COMPRESSION,
                        help="blosc codec of the chunks: zstd-1, zstd-5 or lz4hc-9")  # fmt: skip
    add_spacing_options(parser)
    add_writer_options(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> None:
    from ..writers.omezarr.builder import build_pyramid
    from ..writers.omezarr.inputs import InputArray
    from ..writers.omezarr.ngff import with_spacing

    check_suffix(args.output, (".zarr",), "the output of pyramid")
    refuse_existing([args.output], args.overwrite)
    source: str | InputArray = args.input
    meta = None
    if args.spacing is not None or args.unit is not None:
        source = InputArray(args.input)
        meta = with_spacing(source.metadata, args.spacing, args.unit)
    run = Run(args, "pyramid")
    with progress_bar(args.quiet, f"building {args.output}", "bytes") as progress:
        build_pyramid(source, args.output, method=args.method, memory=args.memory, client=args.scheduler,
                      workers=args.threads, overwrite=args.overwrite, compression=args.compression, meta=meta,
                      progress=progress)  # fmt: skip
    run.finish(f"wrote {args.output} in {run.seconds:.2f} s")
