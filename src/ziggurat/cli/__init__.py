"""The ``ziggurat`` command: thin argument parsing over the library; errors are one line, exit 2.

Each subcommand lives in its own module under :mod:`ziggurat.cli` with a
``register(subparsers)`` function; adding a command is one module plus one line here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from ..errors import ZigguratError
from ..version import __version__
from .grammar import Parser, show_warning

COMMAND_MODULES = ("info", "sample", "serve", "convert", "tile", "dzi", "pyramid", "thumbnails", "cohort")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ziggurat", description="Gigantic biomedical images, fast (docs/cli.md: the grammar).")
    parser.add_argument("--version", action="version", version=f"ziggurat {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"ziggurat.cli.{name}").register(commands)
    return parser


def run() -> NoReturn:
    """The ``ziggurat`` program: :func:`main`, then exit with its code. A Ctrl-C that arrives after
    the run returned (while the interpreter tears down, after Python has put back the default
    action) would kill the process silently, its output complete; from here on it is ignored."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = show_warning  # one "ziggurat: warning: ..." line, no source paths
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:  # Ctrl-C while the subcommands load is an interruption too
        args = build_parser().parse_args(argv)
        args.run(args)
    except (ZigguratError, OSError, ValueError) as exc:
        print(f"ziggurat: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ziggurat: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("ZIGGURAT_DEBUG"):
            raise
        print(f"ziggurat: internal error: {type(exc).__name__}: {exc} "
              "(set ZIGGURAT_DEBUG=1 for the traceback)", file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
