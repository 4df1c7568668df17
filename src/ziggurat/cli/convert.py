"""``ziggurat convert INPUT OUT.zarr|OUT.nii[.gz]``: volumes to sharded OME-Zarr, or back to NIfTI."""

from __future__ import annotations

import argparse
import time

from ..writers.omezarr.ngff import ALIASES, COMPRESSIONS, CONVERT_COMPRESSION

COMPRESSION_NAMES = (*COMPRESSIONS, *ALIASES)


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
    parser.add_argument("out", help="OUT.zarr (OME-Zarr 0.5) or OUT.nii / OUT.nii.gz")
    parser.add_argument("--chunks", type=_chunks, default="auto", help="axial, isotropic, auto or Z,Y,X")
    parser.add_argument("--compression", choices=COMPRESSION_NAMES, default=CONVERT_COMPRESSION,
                        help="blosc codec: lz4hc-9 (= lz4hc) fastest reads (default); zstd-5 (= zstd) ~20%% smaller, "
                             "slower decode; zstd-1")  # fmt: skip
    parser.add_argument("--levels", type=int, default=None, help="at most this many pyramid levels")
    parser.add_argument("--no-overwrite", action="store_true", help="fail if OUT exists")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> None:
    """Convert, with a progress bar over the source bytes read."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from ..writers.convert import convert

    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TimeElapsedColumn(), transient=True) as bar:  # fmt: skip
        task = bar.add_task(f"writing {args.out}", total=None)
        convert(args.input, args.out, chunks=args.chunks, levels=args.levels, compression=args.compression,
                overwrite=not args.no_overwrite,
                progress=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    print(f"wrote {args.out} in {time.perf_counter() - start:.2f} s")
