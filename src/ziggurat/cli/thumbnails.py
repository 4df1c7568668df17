"""``ziggurat thumbnails INPUT OUTPUT``: 8-bit half-resolution thumbnails and a 3-D pyramid of a slice folder."""

from __future__ import annotations

import argparse
import os

from ..io.locations import is_url
from .grammar import Run, add_threads, add_writer_options, check_suffix, progress_bar, refuse_existing, remove


def _window(text: str) -> str | tuple[float, float]:
    if text == "auto":
        return text
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or MIN,MAX; got {text!r}") from None
    if hi <= lo:
        raise argparse.ArgumentTypeError(f"window MAX must exceed MIN; got {text!r}")
    return lo, hi


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("thumbnails", help="thumbnails + 3-D pyramid of a CT slice folder (resumable)")
    parser.add_argument("input", help="a folder of 2-D slices (8/16-bit TIFF, PNG, JPEG)")
    parser.add_argument("output", help="output folder: OUTPUT/1 (half resolution), OUTPUT/2, ...")
    parser.add_argument("--pair-average", action="store_true", help="average each pair of slices (2x2x2)")
    parser.add_argument("--window", type=_window, default="auto", help="auto (min,max of sampled slices) or MIN,MAX")
    parser.add_argument("--format", choices=("png", "tif"), default="png", help="encoding of the thumbnails")
    parser.add_argument("--levels", type=int, default=None, help="levels to write (default: until <= 256 px)")
    add_threads(parser)
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run into an existing OUTPUT")
    add_writer_options(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> None:
    from ..writers.thumbnails import build_thumbnails

    check_suffix(args.output, ("",), "the output of thumbnails (a folder)")
    if args.overwrite and (is_url(args.input) or os.path.exists(args.input)):  # a missing INPUT leaves OUTPUT
        remove(args.output)
    elif not args.resume:
        refuse_existing([args.output], False)
    run = Run(args, "thumbnails")
    with progress_bar(args.quiet, f"thumbnails of {args.input}", "slices") as progress:
        summary = build_thumbnails(args.input, args.output, pair_average=args.pair_average, window=args.window,
                                   format=args.format, levels=args.levels, workers=args.threads,
                                   progress=progress)  # fmt: skip
    lo, hi = summary["window"]
    run.finish(f"wrote {summary['written']} of {summary['images']} images in {summary['levels']} levels "
               f"(window {lo:g},{hi:g}) to {args.output} in {run.seconds:.2f} s", summary)  # fmt: skip
