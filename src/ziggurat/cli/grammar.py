"""The one CLI grammar every command shares (docs/cli.md has the table).

``INPUT OUTPUT`` positionals; writers refuse an existing output unless ``--overwrite`` and take
``--quiet`` and ``--metrics FILE.json``; progress goes to stderr; ``--format`` names the output
encoding; ``--threads`` and ``--processes`` say which they mean; rendering commands take the
volume options (``--axis --slice --t``) and ``--style``; every ``--help`` shows the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedFormatError
from ..io.atomic import OutputExistsError, atomic_path
from ..io.locations import is_url
from ..io.upload import occupied

if TYPE_CHECKING:
    from ..model.image import Image

Progress = Callable[[int, int], None]
#: suffixes that name a file format; an output whose suffix is one of these must be the right one
FORMAT_SUFFIXES = (".zarr", ".nii", ".gz", ".dzi", ".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".npy",
                   ".txt", ".json", ".csv", ".parquet", ".svs", ".dcm", ".n5")  # fmt: skip


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to every option with a meaningful default (not None or False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else "%(default)s"
        return f"{text} (default: {shown})"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help shows defaults; subcommand parsers inherit it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


class Renamed(argparse.Action):
    """An old option name, hidden from help: still works, with a one-line warning naming the new one."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        warn(f"{option_string} is now {self.new}")
        setattr(namespace, self.dest, values)


def warn(message: str) -> None:
    """One ``ziggurat: warning: …`` line on stderr."""
    print(f"ziggurat: warning: {message}", file=sys.stderr)


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:  # fmt: skip
    """``warnings.showwarning`` for the CLI: the message only, no source path."""
    warn(str(message))


def add_writer_options(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``, ``--quiet`` and ``--metrics``: the options every writer shares."""
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    parser.add_argument("--metrics", metavar="FILE.json", help="write the run's metrics as JSON")


def add_threads(parser: argparse.ArgumentParser, what: str = "threads") -> None:
    """``--threads N`` (``--workers`` still works, with a warning)."""
    parser.add_argument("--threads", type=int, default=None, help=f"{what} (default: all cores)")
    parser.add_argument("--workers", dest="threads", type=int, action=Renamed, new="--threads")


def _steps(text: str) -> tuple[float, ...]:
    try:
        steps = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected Z,Y,X (or Y,X) steps, got {text!r}") from None
    if min(steps) <= 0:
        raise argparse.ArgumentTypeError(f"steps must be positive, got {text!r}")
    return steps


def add_spacing_options(parser: argparse.ArgumentParser) -> None:
    """``--spacing Z,Y,X --unit nm|um|mm``: the physical grid, when the source has none or a wrong one."""
    parser.add_argument("--spacing", type=_steps, help="voxel steps Z,Y,X (Y,X for 2-D), replacing the source's")
    parser.add_argument("--unit", help="unit of the spatial axes: nm, um (µm), mm, cm, m (default: the source's)")


def add_view_options(parser: argparse.ArgumentParser) -> None:
    """Which plane of a volume to render and how: ``--axis --slice --t --style``."""
    parser.add_argument("--axis", default="z", choices=("z", "y", "x", "axial", "coronal", "sagittal"),
                        help="a volume's plane axis")  # fmt: skip
    parser.add_argument("--slice", type=int, default=None, help="plane index along --axis (default: the middle)")
    parser.add_argument("--t", type=int, default=0, help="time point of a 4-D image")
    parser.add_argument("--style", help="style JSON or preset name (gray, viridis, ct-bone, ...); default: "
                                        "the server's (auto window for 16-bit, float and signed images)")  # fmt: skip


def view_of(image: Image, args: argparse.Namespace) -> Image:
    """The 2-D ``yxc`` Image a rendering command draws: a slide itself, or the asked plane."""
    from ..model.planes import plane

    if image.is_volume:
        return plane(image, args.axis, args.slice, t=args.t)
    return plane(image)


def check_suffix(path: str, allowed: Sequence[str], what: str) -> None:
    """Refuse an output whose suffix names another format (``convert in.nii x.txt``).

    ``""`` in ``allowed`` means a suffix-less name is fine (a directory output): then only a
    suffix of a known file format is refused.
    """
    name = path.lower().rstrip("/")
    if any(name.endswith(s) for s in allowed if s):
        return
    suffix = Path(name).suffix
    if "" in allowed and suffix not in FORMAT_SUFFIXES:
        return
    ends = " or ".join(s for s in allowed if s)
    wanted = " or ".join(([] if "" not in allowed else ["have no suffix"]) + ([f"end in {ends}"] if ends else []))
    raise UnsupportedFormatError(f"{path}: {what} must {wanted}")


def refuse_existing(paths: Sequence[str | os.PathLike[str]], overwrite: bool) -> None:
    """Fail before any work when an output exists and ``--overwrite`` was not given."""
    if overwrite:
        return
    for path in paths:
        if occupied(os.fspath(path)) if is_url(path) else os.path.lexists(path):
            raise OutputExistsError(f"{path}: exists (use --overwrite to replace it)")


def remove(path: str | os.PathLike[str]) -> None:
    """Delete an output being replaced (a file or a directory tree)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


@contextmanager
def progress_bar(quiet: bool, label: str, unit: str = "") -> Iterator[Progress]:
    """A progress bar on stderr fed by ``progress(done, total)``; a no-op with ``--quiet``.

    ``unit="bytes"`` shows sizes and speed; otherwise counts ``done/total`` of ``unit``.
    """
    if quiet:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    counts = (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(), TextColumn(unit))
    with Bar(TextColumn("{task.description}"), BarColumn(), *counts, TimeRemainingColumn(),
             console=Console(stderr=True), transient=True) as bar:  # fmt: skip
        task = bar.add_task(label, total=None)
        drawn: list[bool] = []

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if not drawn:  # show it at once, even for a run shorter than the refresh period
                drawn.append(True)
                bar.refresh()

        yield update


class Run:
    """Times a writer; at the end prints its summary (unless ``--quiet``) and writes ``--metrics``."""

    def __init__(self, args: argparse.Namespace, command: str) -> None:
        self.args = args
        self.command = command
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 3)

    def finish(self, summary: str, metrics: dict[str, Any] | None = None) -> None:
        seconds = self.seconds
        if self.args.metrics:
            document = {"command": self.command, "input": self.args.input, "output": self.args.output,
                        "seconds": seconds, **(metrics or {})}  # fmt: skip
            with atomic_path(self.args.metrics) as tmp, open(tmp, "w", encoding="utf-8") as fh:
                json.dump(document, fh, indent=2, default=str)
        if not self.args.quiet:
            print(summary)
