"""``ziggurat thumbnails STACK_DIR OUT``: 8-bit half-resolution thumbnails and a 3-D pyramid of a slice folder."""

from __future__ import annotations

import argparse
import time


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
    parser.add_argument("stack", help="a folder of 2-D slices (8/16-bit TIFF, PNG, JPEG)")
    parser.add_argument("out", help="output folder: OUT/1 (half resolution), OUT/2, ...")
    parser.add_argument("--pair-average", action="store_true", help="average each pair of slices (2x2x2)")
    parser.add_argument("--window", type=_window, default="auto", help="auto (min,max of sampled slices) or MIN,MAX")
    parser.add_argument("--format", choices=("png", "tif"), default="png")
    parser.add_argument("--levels", type=int, default=None, help="levels to write (default: until <= 256 px)")
    parser.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..writers.thumbnails import build_thumbnails

    start = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} slices/s"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(f"thumbnails of {args.stack}", total=None, rate="-")

        def progress(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:.1f}")

        summary = build_thumbnails(args.stack, args.out, pair_average=args.pair_average, window=args.window,
                                   format=args.format, levels=args.levels, workers=args.workers,
                                   progress=progress)  # fmt: skip
    lo, hi = summary["window"]
    print(f"wrote {summary['written']} of {summary['images']} images in {summary['levels']} levels "
          f"(window {lo:g},{hi:g}) to {args.out} in {time.perf_counter() - start:.2f} s")  # fmt: skip
