"""``ziggurat info FILE [--json]``: format, backend, levels, tiles, MPP, associated images."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..model.image import Image
from ..sources.base import SLIDE_AXES


def register(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", help="describe an image: format, levels, tiles, MPP")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="complete metadata as JSON")
    info.add_argument("--backend", help="force a backend (tiff, openslide, pillow)")
    info.set_defaults(run=run)


def describe(image: Image) -> dict[str, Any]:
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


def describe_volume(volume: Image) -> dict[str, Any]:
    """What ``info`` reports for an image that is not a ``yxc`` slide (volumes, stacks, arrays)."""
    facts: dict[str, Any] = {
        "path": volume.path,
        "format": volume.format,
        "backend": volume.backend,
        "kind": "volume" if volume.is_volume else "array",
        "axes": list(volume.axes),
        "shape": list(volume.shape),
        "dtype": str(volume.dtype),
        "scale": list(volume.scale) if volume.scale else None,
        "units": list(volume.units),
        "levels": [{"index": lvl.index, "shape": list(lvl.shape), "chunks": list(lvl.chunks)} for lvl in volume.levels],
    }
    if volume.is_volume:
        facts["spacing_mm"] = list(volume.spacing)
        facts["affine"] = volume.affine.tolist()
    return facts


def run(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from .. import open as open_image

    opened = open_image(args.path, backend=args.backend)
    if opened.axes != SLIDE_AXES:
        facts = describe_volume(opened)
        if args.json:
            print(json.dumps(facts, indent=2))
            return
        shape = " x ".join(f"{a}={n}" for a, n in zip(facts["axes"], facts["shape"]))
        spacing = (
            ", spacing (z y x) " + " x ".join(f"{v:.4g}" for v in facts["spacing_mm"]) + " mm"
            if "spacing_mm" in facts
            else ""
        )
        Console().print(
            f"[bold]{facts['path']}[/bold]\n{facts['kind']} {facts['format']}, {shape}, {facts['dtype']}"
            f"{spacing}, {len(facts['levels'])} levels"
        )
        return
    with opened as image:
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
