"""``ziggurat sample slide|volume|stack OUTPUT``: generated data for demos, tests and benchmarks."""

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
    slide.add_argument("output", help="OUTPUT.tif")
    slide.add_argument("--size", type=_size, default="40000x30000", help="WIDTHxHEIGHT")
    slide.add_argument("--tile", type=int, default=256, help="tile size in pixels")
    slide.add_argument("--quality", type=int, default=90, help="JPEG quality 1-100")
    slide.add_argument("--seed", type=int, default=0, help="random seed")
    slide.set_defaults(run=_slide)
    for kind, text, run in (
        ("volume", "CT-like uint16 volume as a multi-page TIFF", _volume),
        ("stack", "CT-like folder of 16-bit TIFF slices", _stack),
    ):
        parser = kinds.add_parser(kind, help=text)
        parser.add_argument("output", help="OUTPUT.tif" if kind == "volume" else "OUTPUT folder")
        parser.add_argument("--shape", type=_shape3, default="64x256x256", help="ZxYxX")
        parser.set_defaults(run=run)


def _slide(args: argparse.Namespace) -> None:
    from ..testing.sample import write_slide

    start = time.perf_counter()
    w, h = args.size
    write_slide(args.output, w, h, tile=args.tile, quality=args.quality, seed=args.seed)
    print(f"wrote {args.output} ({w} x {h}) in {time.perf_counter() - start:.1f} s")


def _volume(args: argparse.Namespace) -> None:
    from ..testing.sample import write_volume

    write_volume(args.output, args.shape)
    print(f"wrote {args.output} {args.shape}")


def _stack(args: argparse.Namespace) -> None:
    from ..testing.sample import write_stack

    write_stack(args.output, args.shape)
    print(f"wrote {args.output}/ with {args.shape[0]} slices")
