"""``ziggurat info FILE [--json]``: format, backend, levels, tiles, MPP, associated images."""

from __future__ import annotations

import argparse
import json

from ..model.describe import describe
from ..sources.base import SLIDE_AXES


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    info = commands.add_parser("info", help="describe an image: format, levels, tiles, MPP")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="complete metadata as JSON")
    info.add_argument(
        "--backend", help="force a backend (tiff, openslide, pillow, omezarr, zarr, n5, nifti, dicom, tiffstack)"
    )
    info.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..model.image import open_image

    opened = open_image(args.path, backend=args.backend)
    if opened.axes != SLIDE_AXES:
        facts = describe(opened)
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
