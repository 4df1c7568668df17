"""``ziggurat dzi SLIDE OUT``: a DeepZoom (or XYZ) tile pyramid, with progress and metrics."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dzi = commands.add_parser("dzi", help="write a DeepZoom pyramid (OUT.dzi + OUT_files/)")
    dzi.add_argument("slide")
    dzi.add_argument(
        "out",
        help="OUT (writes OUT.dzi and OUT_files/; a directory with --layout google)",
    )
    dzi.add_argument("--tile-size", type=int, help="tile size in pixels (254, google: 256)")
    dzi.add_argument("--overlap", type=int, help="overlap in pixels (1, google: 0)")
    dzi.add_argument("--format", default="jpeg", choices=("jpeg", "png", "webp"))
    dzi.add_argument("--quality", type=int, default=90, help="JPEG/WebP quality 1-100")
    dzi.add_argument("--background", default="ffffff", help="RRGGBB fill for padding and bad tiles")
    dzi.add_argument(
        "--limit-bounds",
        action="store_true",
        help="tile only the slide's scanned bounds",
    )
    dzi.add_argument("--layout", default="dz", choices=("dz", "google"))
    dzi.add_argument("--workers", type=int, help="encoding threads (default: all cores)")
    dzi.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    dzi.add_argument("--skip-bad-tiles", action="store_true",
                     help="fill unreadable source tiles with the background and list them")  # fmt: skip
    dzi.add_argument("--metrics", metavar="FILE.json", help="write run metrics as JSON")
    dzi.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    dzi.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..io.atomic import atomic_path
    from ..writers.dzi import write_dzi

    show_bar = not args.quiet and sys.stderr.isatty()
    with _progress_bar(show_bar) as bar, _interrupt_between_tiles() as check:

        def progress(done: int, total: int) -> None:
            check()
            if bar is not None:
                bar(done, total)

        metrics = write_dzi(
            args.slide, args.out, tile_size=args.tile_size, overlap=args.overlap, format=args.format,
            quality=args.quality, background=args.background, limit_bounds=args.limit_bounds,
            layout=args.layout, overwrite=args.overwrite, skip_bad_tiles=args.skip_bad_tiles,
            progress=progress, workers=args.workers,
        )  # fmt: skip
    for bad in metrics["bad_tiles"]:
        print(
            f"ziggurat: skipped unreadable tile: level {bad['level']} row {bad['row']} "
            f"col {bad['col']} (x {bad['x']}, y {bad['y']})",
            file=sys.stderr,
        )
    if args.metrics:
        with atomic_path(args.metrics) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"slide": args.slide, "out": args.out, **metrics}, fh, indent=2)
    if not args.quiet:
        print(_summary(args.out, metrics))


def _summary(out: str, m: dict[str, Any]) -> str:
    copied = f", {m['copied_tiles']} copied" if m["copied_tiles"] else ""
    skipped = f", {len(m['bad_tiles'])} bad tiles filled" if m["bad_tiles"] else ""
    return (
        f"wrote {out}: {m['tiles']} tiles in {m['levels']} levels{copied}{skipped}, "
        f"{m['bytes_written'] / 1e6:.1f} MB in {m['seconds']:.1f} s "
        f"({m['tiles_per_s']:.0f} tiles/s, peak RSS {m['peak_rss_mb']:.0f} MB)"
    )


@contextmanager
def _interrupt_between_tiles() -> Iterator[Callable[[], None]]:
    """Turn Ctrl-C into a cancellation raised from ``check()`` (called as tiles complete).

    A KeyboardInterrupt raised at an arbitrary instruction can land inside a thread pool's
    locking and leave a lock held, hanging the run; raised from the progress hook it cancels
    cleanly (the temporary output is removed). A second Ctrl-C ends the process at once.
    """
    interrupted: list[int] = []

    def handler(signum: int, frame: object) -> None:
        interrupted.append(signum)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    previous = signal.signal(signal.SIGINT, handler)

    def check() -> None:
        if interrupted:
            raise KeyboardInterrupt

    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar (tiles done/total, tiles/s, ETA) fed by ``progress(done, total)``."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("tiles"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("dzi", total=None, rate="")

        def update(done: int, total: int) -> None:
            speed = bar.tasks[0].speed
            bar.update(
                task,
                completed=done,
                total=total,
                rate=f"{speed:,.0f} tiles/s" if speed else "",
            )

        yield update
