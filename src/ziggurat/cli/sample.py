"""``ziggurat sample slide|volume|stack OUT``: generated data for demos, tests and benchmarks."""

from __future__ import annotations

import argparse
import time


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return w, h


def _shape3(text: str) -> tuple[int, int, int]:
    try:
        z, y, x = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ZxYxX, got {text!r}") from None
    if min(z, y, x) <= 0:
        raise argparse.ArgumentTypeError(f"shape must be positive, got {text!r}")
    return z, y, x


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sample = commands.add_parser("sample", help="generate sample data")
    kinds = sample.add_subparsers(dest="kind", required=True)
    slide = kinds.add_parser("slide", help="H&E-like pyramidal JPEG TIFF")
    slide.add_argument("out")
    slide.add_argument("--size", type=_size, default=(40_000, 30_000), help="WIDTHxHEIGHT")
    slide.add_argument("--tile", type=int, default=256)
    slide.add_argument("--quality", type=int, default=90)
    slide.add_argument("--seed", type=int, default=0)
    slide.set_defaults(run=_slide)
    for kind, text, run in (
        ("volume", "CT-like uint16 volume as a multi-page TIFF", _volume),
        ("stack", "CT-like folder of 16-bit TIFF slices", _stack),
    ):
        parser = kinds.add_parser(kind, help=text)
        parser.add_argument("out")
        parser.add_argument("--shape", type=_shape3, default=(64, 256, 256), help="ZxYxX")
        parser.set_defaults(run=run)


def _slide(args: argparse.Namespace) -> None:
    from ..testing.sample import write_slide

    start = time.perf_counter()
    w, h = args.size
    write_slide(args.out, w, h, tile=args.tile, quality=args.quality, seed=args.seed)
    print(f"wrote {args.out} ({w} x {h}) in {time.perf_counter() - start:.1f} s")


def _volume(args: argparse.Namespace) -> None:
    from ..testing.sample import write_volume

    write_volume(args.out, args.shape)
    print(f"wrote {args.out} {args.shape}")


def _stack(args: argparse.Namespace) -> None:
    from ..testing.sample import write_stack

    write_stack(args.out, args.shape)
    print(f"wrote {args.out}/ with {args.shape[0]} slices")
