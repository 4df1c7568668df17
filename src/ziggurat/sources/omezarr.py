"""OME-Zarr volumes: read the multiscale metadata of NGFF 0.5 (Zarr v3) and 0.4 (Zarr v2) stores.

The writer is :mod:`ziggurat.writers.omezarr` (a group whose ``ome`` attribute holds one multiscale,
arrays ``0``, ``1``, …, and a ``ziggurat`` attribute with the world affine and the source's own
metadata, e.g. the NIfTI header, so that exporting back is exact).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CorruptImageError, UnsupportedFormatError


@dataclass
class VolumeMeta:
    """What a volume store records besides pixels."""

    axes: tuple[str, ...]
    spacing: tuple[float, ...]  # per axis of level 0 (1.0 for c)
    affine: np.ndarray  # 4x4, NIfTI convention: (x, y, z, 1) voxel index -> world mm (RAS+)
    extra: dict = field(default_factory=dict)  # the source's own metadata, e.g. {"nifti": {...}}


@dataclass
class StoreInfo:
    """A parsed multiscale store: level array paths finest first, and metadata."""

    version: str
    zarr_format: int
    level_paths: list[str]
    meta: VolumeMeta


def read_store(path: str | os.PathLike) -> StoreInfo:
    """Parse the NGFF 0.5 (Zarr v3) or 0.4 (Zarr v2) multiscale metadata of a volume store."""
    path = Path(path)
    if (path / "zarr.json").is_file():
        node = _load_json(path / "zarr.json")
        attrs, zarr_format = node.get("attributes", {}), 3
        ome = attrs.get("ome", {})
    elif (path / ".zattrs").is_file():
        attrs, zarr_format = _load_json(path / ".zattrs"), 2
        ome = attrs
    else:
        raise UnsupportedFormatError(f"{path}: not a Zarr group (no zarr.json or .zattrs)")
    try:
        multiscale = ome["multiscales"][0]
        axes = tuple(a["name"] if isinstance(a, dict) else a for a in multiscale["axes"])
        datasets = multiscale["datasets"]
        scale = next(t["scale"] for t in datasets[0]["coordinateTransformations"] if t["type"] == "scale")
    except (KeyError, IndexError, StopIteration, TypeError) as exc:
        raise UnsupportedFormatError(f"{path}: no OME-NGFF multiscales metadata ({exc!r})") from exc
    if axes[-3:] != ("z", "y", "x"):
        raise UnsupportedFormatError(f"{path}: axes {axes} do not end in z y x")
    version = str(ome.get("version", multiscale.get("version", "0.4")))
    extra = dict(attrs.get("ziggurat", {}))
    affine = np.asarray(extra.pop("affine", _scale_affine(axes, scale)), dtype=np.float64)
    meta = VolumeMeta(axes=axes, spacing=tuple(float(s) for s in scale), affine=affine, extra=extra)
    return StoreInfo(version, zarr_format, [d["path"] for d in datasets], meta)


def _scale_affine(axes: Sequence[str], scale: Sequence[float]) -> np.ndarray:
    by_axis = dict(zip(axes, scale))
    return np.diag([by_axis["x"], by_axis["y"], by_axis["z"], 1.0])


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptImageError(f"{path}: unreadable metadata: {exc}") from exc
