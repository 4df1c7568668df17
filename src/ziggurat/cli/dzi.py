"""``ziggurat dzi INPUT OUTPUT``: a DeepZoom (or XYZ) tile pyramid, with progress and metrics."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .grammar import (
    Run,
    add_threads,
    add_view_options,
    add_writer_options,
    check_suffix,
    progress_bar,
    refuse_existing,
    view_of,
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dzi = commands.add_parser("dzi", help="write a DeepZoom pyramid (OUTPUT.dzi + OUTPUT_files/)")
    dzi.add_argument("input", help="a slide, image or volume (a plane of it: --axis --slice --t)")
    dzi.add_argument("output", help="OUTPUT (writes OUTPUT.dzi and OUTPUT_files/; a directory with --layout google)")
    dzi.add_argument("--tile-size", type=int, help="tile size in pixels (default: 254, google: 256)")
    dzi.add_argument("--overlap", type=int, help="overlap in pixels (default: 1, google: 0)")
    dzi.add_argument("--format", default="jpeg", choices=("jpeg", "png", "webp"), help="tile encoding")
    dzi.add_argument("--quality", type=int, default=90, help="JPEG/WebP quality 1-100")
    dzi.add_argument("--background", default="ffffff", help="RRGGBB fill for padding and bad tiles")
    dzi.add_argument("--limit-bounds", action="store_true", help="tile only the slide's scanned bounds")
    dzi.add_argument("--layout", default="dz", choices=("dz", "google"), help="dz: DeepZoom; google: OUTPUT/z/y/x")
    add_threads(dzi, "encoding threads")
    dzi.add_argument("--skip-bad-tiles", action="store_true",
                     help="fill unreadable source tiles with the background and list them")  # fmt: skip
    add_view_options(dzi)
    add_writer_options(dzi)
    dzi.set_defaults(run=run)


def outputs(out: str, layout: str) -> list[str]:
    """The paths a run creates: ``OUT.dzi`` and ``OUT_files``, or the google directory."""
    if layout == "google":
        return [out]
    base = out[: -len(".dzi")] if out.endswith(".dzi") else out
    return [f"{base}.dzi", f"{base}_files"]


def run(args: argparse.Namespace) -> None:
    from ..model.image import open_image
    from ..render.styled import styled
    from ..writers.dzi import write_dzi

    check_suffix(args.output, ("", ".dzi") if args.layout == "dz" else ("",), "the output of dzi")
    refuse_existing(outputs(args.output, args.layout), args.overwrite)
    run = Run(args, "dzi")
    opened = open_image(args.input)
    try:
        image = styled(view_of(opened, args), args.style)
        target = args.input if image is opened else image  # a slide as it is: the writer's own sequential open
        with progress_bar(args.quiet, "tiles", "tiles") as bar, _interrupt_between_tiles() as check:

            def progress(done: int, total: int) -> None:
                check()
                bar(done, total)

            metrics = write_dzi(
                target, args.output, tile_size=args.tile_size, overlap=args.overlap, format=args.format,
                quality=args.quality, background=args.background, limit_bounds=args.limit_bounds,
                layout=args.layout, overwrite=args.overwrite, skip_bad_tiles=args.skip_bad_tiles,
                progress=progress, workers=args.threads,
            )  # fmt: skip
    finally:
        opened.close()
    for bad in metrics["bad_tiles"]:
        print(
            f"ziggurat: skipped unreadable tile: level {bad['level']} row {bad['row']} "
            f"col {bad['col']} (x {bad['x']}, y {bad['y']})",
            file=sys.stderr,
        )
    run.finish(_summary(args.output, metrics), metrics)


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
