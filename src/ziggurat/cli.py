"""The ``ziggurat`` command: thin argument parsing over the library; errors are one line, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .errors import ZigguratError

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
    return z, y, x


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ziggurat", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ziggurat {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="describe an image: format, levels, tiles, MPP")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="complete metadata as JSON")
    info.add_argument("--backend", help="force a backend (tiff, openslide, pillow)")
    info.set_defaults(run=_info)

    sample = commands.add_parser("sample", help="generate sample data")
    kinds = sample.add_subparsers(dest="kind", required=True)
    slide = kinds.add_parser("slide", help="H&E-like pyramidal JPEG TIFF")
    slide.add_argument("out")
    slide.add_argument("--size", type=_size, default=(40_000, 30_000), help="WIDTHxHEIGHT")
    slide.add_argument("--tile", type=int, default=256)
    slide.add_argument("--quality", type=int, default=90)
    slide.add_argument("--seed", type=int, default=0)
    slide.set_defaults(run=_sample_slide)
    volume = kinds.add_parser("volume", help="CT-like uint16 volume as a multi-page TIFF")
    volume.add_argument("out")
    volume.add_argument("--shape", type=_shape3, default=(64, 256, 256), help="ZxYxX")
    volume.set_defaults(run=_sample_volume)
    stack = kinds.add_parser("stack", help="CT-like folder of 16-bit TIFF slices")
    stack.add_argument("out")
    stack.add_argument("--shape", type=_shape3, default=(64, 256, 256), help="ZxYxX")
    stack.set_defaults(run=_sample_stack)
    return parser


def describe(image: Any) -> dict[str, Any]:
    """Everything ``info`` reports, as JSON-able data."""
    return {
        "path": image.path,
        "format": image.format,
        "backend": image.backend,
        "dimensions": list(image.dimensions),
        "dtype": str(image.dtype),
        "channels": image.channels,
        "channel_names": image.channel_names,
        "mpp": list(image.mpp) if image.mpp else None,
        "objective_power": image.objective_power,
        "levels": [
            {
                "index": lvl.index,
                "width": lvl.size[0],
                "height": lvl.size[1],
                "downsample": lvl.downsample,
                "tile_width": lvl.tile_shape[1],
                "tile_height": lvl.tile_shape[0],
            }
            for lvl in image.levels
        ],
        "associated_images": {
            name: list(arr.shape) for name, arr in image.associated_images.items()
        },
        "properties": image.properties,
    }


def _info(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from . import open as open_image

    with open_image(args.path, backend=args.backend) as image:
        facts = describe(image)
    if args.json:
        print(json.dumps(facts, indent=2))
        return
    console = Console()
    w, h = facts["dimensions"]
    mpp = facts["mpp"]
    console.print(f"[bold]{facts['path']}[/bold]")
    console.print(
        f"format {facts['format']} (backend {facts['backend']}), {w} x {h} px, "
        f"{facts['channels']} x {facts['dtype']}"
        + (f", {mpp[0]:.4g} x {mpp[1]:.4g} µm/px" if mpp else ", no physical pixel size")
        + (f", {facts['objective_power']:g}x" if facts["objective_power"] else "")
    )
    table = Table("level", "width", "height", "downsample", "tile")
    for lvl in facts["levels"]:
        table.add_row(
            str(lvl["index"]), str(lvl["width"]), str(lvl["height"]),
            f"{lvl['downsample']:.4g}", f"{lvl['tile_width']}x{lvl['tile_height']}",
        )  # fmt: skip
    console.print(table)
    if facts["associated_images"]:
        names = ", ".join(f"{k} {v[1]}x{v[0]}" for k, v in facts["associated_images"].items())
        console.print(f"associated images: {names}")
    if facts["channel_names"]:
        console.print(f"channels: {', '.join(facts['channel_names'])}")
    keys = [k for k in facts["properties"] if not k.startswith("openslide.level[")]
    console.print(f"{len(facts['properties'])} properties (--json lists them): " + ", ".join(keys[:8]))


def _sample_slide(args: argparse.Namespace) -> None:
    import time

    from .sample import write_slide

    start = time.perf_counter()
    w, h = args.size
    write_slide(args.out, w, h, tile=args.tile, quality=args.quality, seed=args.seed)
    print(f"wrote {args.out} ({w} x {h}) in {time.perf_counter() - start:.1f} s")


def _sample_volume(args: argparse.Namespace) -> None:
    from .sample import write_volume

    write_volume(args.out, args.shape)
    print(f"wrote {args.out} {args.shape}")


def _sample_stack(args: argparse.Namespace) -> None:
    from .sample import write_stack

    write_stack(args.out, args.shape)
    print(f"wrote {args.out}/ with {args.shape[0]} slices")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ZigguratError as exc:
        print(f"ziggurat: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"ziggurat: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ziggurat: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
