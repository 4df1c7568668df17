"""``ziggurat info FILE [--json] [--series UID]``: format, backend (and why), levels, tiles, MPP,
associated images; a DICOM media set with several series lists them (``--series`` opens one)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ..model.describe import describe
from ..sources.base import SLIDE_AXES
from ..sources.registry import claims


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    info = commands.add_parser("info", help="describe an image: format, levels, tiles, MPP")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="complete metadata as JSON")
    info.add_argument(
        "--backend",
        help="force a backend (tiff, openslide, pillow, omezarr, zarr, n5, nifti, dicom, dicomwsi, dicomdir, ...)",
    )
    info.add_argument("--series", help="the Series Instance UID to open in a DICOM media set or mixed folder")
    info.set_defaults(run=run)


def why(path: str, backend: str, forced: bool) -> dict[str, Any]:
    """Which backends claimed ``path`` (probe scores, best first) and why ``backend`` serves it."""
    ranking = claims(path)
    if forced:
        reason = f"{backend} was forced (--backend)"
    elif ranking and ranking[0][0] == backend:
        others = ", ".join(f"{n} {s}" for n, s in ranking[1:])
        reason = f"{backend} scored highest ({ranking[0][1]})" + (f" over {others}" if others else "")
    else:
        names = [n for n, _ in ranking]
        failed = names[: names.index(backend)] if backend in names else names
        reason = f"{backend} opened it after {', '.join(failed) or 'no other backend'} could not"
    return {"claims": [{"backend": n, "score": s} for n, s in ranking], "reason": reason}


def _series_listing(args: argparse.Namespace) -> bool:
    """Print the series of a DICOM media set that holds several (True), or do nothing (False)."""
    from ..sources.registry import detect

    if args.series or args.backend or detect(args.path) != "dicomdir":
        return False
    from ..sources.dicomdir import list_series

    media = args.path
    listed = list_series(os.path.join(media, "DICOMDIR") if os.path.isdir(media) else media)
    if len(listed) < 2:
        return False
    rows: list[dict[str, Any]] = [
        {"uid": s.uid, "modality": s.modality, "description": s.description, "number": s.number,
         "instances": s.instances, "slide": s.slide}
        for s in listed
    ]  # fmt: skip
    if args.json:
        print(json.dumps({"path": media, "backend": "dicomdir", "series": rows}, indent=2))
        return True
    from rich.console import Console
    from rich.table import Table

    table = Table("modality", "description", "instances")
    table.add_column("series (open with --series UID)", overflow="fold")
    for row in rows:
        table.add_row(str(row["modality"]), str(row["description"]), str(row["instances"]), str(row["uid"]))
    console = Console()
    console.print(f"[bold]{media}[/bold]\nDICOM media set, {len(rows)} series (backend dicomdir)")
    console.print(table)
    return True


def run(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..model.image import open_image

    if _series_listing(args):
        return
    options = {"series": args.series} if args.series else {}
    opened = open_image(args.path, backend=args.backend, **options)
    chosen = why(args.path, opened.backend, args.backend is not None)
    if opened.axes != SLIDE_AXES:
        facts = describe(opened) | {"backend_claims": chosen["claims"], "backend_reason": chosen["reason"]}
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
            f"{spacing}, {len(facts['levels'])} levels\nbackend {opened.backend}: {chosen['reason']}"
        )
        return
    with opened as image:
        facts = describe(image) | {"backend_claims": chosen["claims"], "backend_reason": chosen["reason"]}
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
    console.print(f"backend {facts['backend']}: {chosen['reason']}")
    if facts["associated_images"]:
        names = ", ".join(f"{k} {v[1]}x{v[0]}" for k, v in facts["associated_images"].items())
        console.print(f"associated images: {names}")
    if facts["channel_names"]:
        console.print(f"channels: {', '.join(facts['channel_names'])}")
    keys = [k for k in facts["properties"] if not k.startswith("openslide.level[")]
    console.print(f"{len(facts['properties'])} properties (--json lists them): " + ", ".join(keys[:8]))
