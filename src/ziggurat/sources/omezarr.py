"""OME-Zarr volumes: read the multiscale metadata of NGFF 0.5 (Zarr v3) and 0.4 (Zarr v2) stores.

The writer is :mod:`ziggurat.writers.omezarr` (a group whose ``ome`` attribute holds one multiscale,
arrays ``0``, ``1``, …, and a ``ziggurat`` attribute with the world affine and the source's own
metadata, e.g. the NIfTI header, so that exporting back is exact).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from ..errors import CorruptImageError, UnsupportedFormatError
from ..io.remotepath import RemotePath, as_path, is_dir, prefetch
from .base import Metadata, NoAssociatedImages
from .zarr import load_json, open_array


@dataclass
class StoreInfo:
    """A parsed multiscale store: level array paths finest first, and metadata."""

    version: str
    zarr_format: int
    level_paths: list[str]
    meta: Metadata


def read_store(path: str | os.PathLike[str] | RemotePath) -> StoreInfo:
    """Parse the NGFF 0.5 (Zarr v3) or 0.4 (Zarr v2) multiscale metadata of an image store."""
    path = as_path(path)  # a local folder or an s3:// / http(s):// prefix
    node = load_json(path / "zarr.json")
    if node is None and (path / "zarr.json").is_file():
        raise CorruptImageError(f"{path}: zarr.json is not a readable JSON object")
    if node is not None:
        attrs, zarr_format = node.get("attributes", {}), 3
        ome = attrs.get("ome", {})
    elif (path / ".zattrs").is_file():
        attrs, zarr_format = load_json(path / ".zattrs") or {}, 2
        ome = attrs
    else:
        raise UnsupportedFormatError(f"{path}: not a Zarr group (no zarr.json or .zattrs)")
    try:
        multiscale = ome["multiscales"][0]
        axes = "".join(a["name"] if isinstance(a, dict) else a for a in multiscale["axes"])
        datasets = multiscale["datasets"]
        scale = next(t["scale"] for t in datasets[0]["coordinateTransformations"] if t["type"] == "scale")
        paths = [str(d["path"]) for d in datasets]
        if any(PurePosixPath(p).is_absolute() or ".." in PurePosixPath(p).parts for p in paths):
            raise CorruptImageError(f"{path}: a multiscale dataset path leaves the store: {paths}")
        units = tuple(a.get("unit") if isinstance(a, dict) else None for a in multiscale["axes"])
    except (KeyError, IndexError, StopIteration, TypeError) as exc:
        raise UnsupportedFormatError(f"{path}: no OME-NGFF multiscales metadata ({exc!r})") from exc
    if not axes.endswith("yx") or len(scale) != len(axes) or not set(axes) <= set("tczyx"):
        raise UnsupportedFormatError(f"{path}: axes {axes!r} are not NGFF [t][c][z]yx with one scale each")
    version = str(ome.get("version", multiscale.get("version", "0.4")))
    extra = dict(attrs.get("ziggurat", {}))
    affine = extra.pop("affine", None) if "z" in axes else None
    meta = Metadata.volume(f"ome-zarr {version}", axes, scale, None if affine is None else np.asarray(affine))
    if "z" not in axes:  # a 2-D multiscale (e.g. a slide's pyramid): no world affine
        meta.affine = None
    meta.extra = extra
    if any(units):
        meta.units = units
    channels = (ome.get("omero") or attrs.get("omero") or {}).get("channels", [])
    meta.channel_names = [str(c.get("label", f"C{i}")) for i, c in enumerate(channels) if isinstance(c, dict)]
    meta.channel_colors = [_rgb(c.get("color")) for c in channels if isinstance(c, dict)]
    return StoreInfo(version, zarr_format, paths, meta)


def _rgb(text: object) -> tuple[int, int, int] | None:
    """An omero ``RRGGBB`` colour as (r, g, b); None when absent or malformed."""
    if not isinstance(text, str) or len(text) != 6:
        return None
    try:
        value = int(text, 16)
    except ValueError:
        return None
    return value >> 16, (value >> 8) & 255, value & 255


class OmeZarrSource(NoAssociatedImages):
    """An OME-NGFF multiscale image (0.5 on Zarr v3, 0.4 on Zarr v2), every level lazy."""

    name = "omezarr"
    rank = 85  # the best score probe() gives: an OME-NGFF multiscales attribute is unambiguous

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        if not is_dir(path):
            return 0
        root = as_path(path)
        node = load_json(root / "zarr.json")
        if node is None and (root / "zarr.json").is_file():
            return 10  # a damaged store: opening it says so (CorruptImageError)
        if node is not None:
            attributes = node.get("attributes")
            attrs = attributes.get("ome") if isinstance(attributes, dict) else None
        else:
            attrs = load_json(root / ".zattrs")
        return 85 if isinstance(attrs, dict) and "multiscales" in attrs else 0

    def __init__(self, path: str) -> None:
        info = read_store(path)
        prefetch([as_path(path) / p / ("zarr.json" if info.zarr_format == 3 else ".zarray") for p in info.level_paths])
        self.levels = [open_array(as_path(path) / p, info.zarr_format) for p in info.level_paths]
        if any(len(level.shape) != len(info.meta.axes) for level in self.levels):
            raise CorruptImageError(
                f"{path}: level arrays do not have the {len(info.meta.axes)} axes the metadata names"
            )
        self.metadata = info.meta

    def close(self) -> None:
        pass
