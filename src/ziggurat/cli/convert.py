"""``ziggurat convert INPUT OUTPUT.zarr|OUTPUT.nii[.gz]``: volumes to sharded OME-Zarr, or back to NIfTI."""

from __future__ import annotations

import argparse

from ..writers.omezarr.ngff import ALIASES, COMPRESSIONS, CONVERT_COMPRESSION
from .grammar import (
    Run,
    add_spacing_options,
    add_threads,
    add_writer_options,
    check_suffix,
    progress_bar,
    refuse_existing,
)

COMPRESSION_NAMES = (*COMPRESSIONS, *ALIASES)
SUFFIXES = (".zarr", ".nii", ".nii.gz")


def _chunks(text: str) -> str | tuple[int, int, int]:
    if text in ("axial", "isotropic", "auto"):
        return text
    try:
        z, y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected axial, isotropic, auto or Z,Y,X; got {text!r}") from None
    return z, y, x


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("convert", help="convert a volume (NIfTI, DICOM, TIFF stack, OME-Zarr)")
    parser.add_argument("input", help="a .nii/.nii.gz, DICOM folder or file, TIFF stack, or .zarr")
    parser.add_argument("output", help="OUTPUT.zarr (OME-Zarr 0.5) or OUTPUT.nii / OUTPUT.nii.gz")
    parser.add_argument("--chunks", type=_chunks, default="auto", help="axial, isotropic, auto or Z,Y,X")
    parser.add_argument("--compression", choices=COMPRESSION_NAMES, default=CONVERT_COMPRESSION,
                        help="blosc codec: lz4hc-9 (= lz4hc) fastest reads; zstd-5 (= zstd) ~20%% smaller, "
                             "slower decode; zstd-1")  # fmt: skip
    parser.add_argument("--levels", type=int, default=None, help="at most this many pyramid levels")
    add_threads(parser, "encoding threads")
    add_spacing_options(parser)
    add_writer_options(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> None:
    """Convert, with a progress bar over the source bytes read."""
    from ..writers.convert import convert

    check_suffix(args.output, SUFFIXES, "the output of convert")
    refuse_existing([args.output], args.overwrite)
    run = Run(args, "convert")
    with progress_bar(args.quiet, f"writing {args.output}", "bytes") as progress:
        convert(args.input, args.output, chunks=args.chunks, levels=args.levels, compression=args.compression,
                overwrite=args.overwrite, progress=progress, workers=args.threads, spacing=args.spacing,
                unit=args.unit)  # fmt: skip
    run.finish(f"wrote {args.output} in {run.seconds:.2f} s")
