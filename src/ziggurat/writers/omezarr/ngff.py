"""What an OME-Zarr store says besides pixels: chunk presets, the NGFF 0.5 ``ome`` attribute, codecs.

Pure functions (no I/O): the builder asks them for chunk shapes and the group's attributes. The
``ome`` attribute holds one multiscale (axes with type and unit, a ``scale`` per level and, for
axis-aligned affines with positive steps, a ``translation`` shifted by half a coarser voxel); the
``ziggurat`` attribute holds the world affine and the source's own metadata (e.g. the verbatim NIfTI
header) so that exporting back is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import UnsupportedFormatError
from ...sources.base import Metadata

PRESETS = ("axial", "isotropic", "auto")
ISOTROPIC = 32  # 32³: a random 64³ patch decodes 27 x 128 KiB instead of 8 x 1 MiB (docs/volumes.md)
UNITS = {"z": "millimeter", "y": "millimeter", "x": "millimeter", "t": "second"}
AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}

# name -> (blosc compressor, level); byte shuffle for items wider than a byte. Chosen by measurement
# (docs/volumes.md, "Codecs"): lz4hc-9 for volumes (convert), zstd-1 for pyramids of EM-like data.
COMPRESSIONS = {"lz4hc-9": ("lz4hc", 9), "zstd-1": ("zstd", 1), "zstd-5": ("zstd", 5)}
ALIASES = {"lz4hc": "lz4hc-9", "zstd": "zstd-5"}  # the names `ziggurat convert --compression` always took
CONVERT_COMPRESSION = "lz4hc-9"  # volumes: the fastest reads at about the .nii.gz's size
PYRAMID_COMPRESSION = "zstd-1"  # EM-like uint8 pyramids: the fastest writes, stored input chunks copied through


def codec(name: str) -> tuple[str, int]:
    """(blosc compressor, level) of a compression name such as ``zstd-1`` or ``lz4hc``."""
    try:
        return COMPRESSIONS[ALIASES.get(name, name)]
    except KeyError:
        names = ", ".join([*COMPRESSIONS, *ALIASES])
        raise UnsupportedFormatError(f"unknown compression {name!r}; use one of {names}") from None


def unit_of(meta: Metadata, index: int) -> str | None:
    """The unit of axis ``index``: as the metadata says, else millimetres for z y x, seconds for t."""
    return meta.units[index] if meta.units else UNITS.get(meta.axes[index])


def world(meta: Metadata) -> np.ndarray:
    """The world affine, or the diagonal one of the scale."""
    if meta.affine is not None:
        return np.asarray(meta.affine, dtype=np.float64)
    by_axis = dict(zip(meta.axes, meta.scale or (), strict=True))
    return np.diag([by_axis.get("x", 1.0), by_axis.get("y", 1.0), by_axis.get("z", 1.0), 1.0])


def chunk_shape(
    chunks: str | Sequence[int], axes: str, shape: Sequence[int], spacing: Sequence[float]
) -> tuple[int, ...]:
    """Chunk shape for ``[c|t] z y x`` from a preset name or explicit ``(z, y, x)`` (leading axes: 1).

    ``axial`` is one slice per chunk; ``isotropic`` is 32³; ``auto`` is axial for thick slices
    (z spacing >= 2x in-plane), isotropic otherwise. Not clipped to the shape.
    """
    if axes[-3:] != "zyx":
        raise UnsupportedFormatError(f"chunk presets need axes ending in z y x, not {axes!r}")
    y, x = shape[-2:]
    lead = (1,) * (len(shape) - 3)
    if chunks == "auto":
        sz, sy, sx = spacing[-3:]
        chunks = "axial" if sz >= 2 * max(sy, sx) else "isotropic"
    if isinstance(chunks, str):
        if chunks == "axial":
            return (*lead, 1, int(y), int(x))
        if chunks == "isotropic":
            return (*lead, ISOTROPIC, ISOTROPIC, ISOTROPIC)
        raise UnsupportedFormatError(f"unknown chunk preset {chunks!r}; use {', '.join(PRESETS)} or Z,Y,X")
    zyx = tuple(int(c) for c in chunks)
    if len(zyx) != 3 or min(zyx) < 1:
        raise UnsupportedFormatError(f"explicit chunks must be three positive ints Z,Y,X, got {chunks!r}")
    return (*lead, *zyx)


def _translation(affine: np.ndarray, axes: str) -> list[float] | None:
    """NGFF translation (per axis) when the affine is axis-aligned with positive steps, else None."""
    linear = affine[:3, :3]
    if not np.allclose(linear, np.diag(np.diag(linear))) or np.any(np.diag(linear) <= 0):
        return None
    origin = {"x": affine[0, 3], "y": affine[1, 3], "z": affine[2, 3]}
    return [float(origin.get(a, 0.0)) for a in axes]


def ngff_attributes(meta: Metadata, n_levels: int, name: str, halved: str, method: str) -> dict[str, Any]:
    """The ``ome`` attribute (NGFF 0.5) of a multiscale of ``n_levels`` levels, each halved along ``halved``."""
    axes: list[dict[str, str]] = []
    for i, a in enumerate(meta.axes):
        entry = {"name": a, "type": AXIS_TYPES[a]}
        unit = unit_of(meta, i)
        if unit is not None and a != "c":
            entry["unit"] = unit
        axes.append(entry)
    translation = _translation(world(meta), meta.axes)
    spacing = meta.scale or (1.0,) * len(meta.axes)
    datasets = []
    for i in range(n_levels):
        scale = [s * (2**i if a in halved else 1) for a, s in zip(meta.axes, spacing, strict=True)]
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
        if translation is not None:
            shifted = [t + (s - s0) / 2 for t, s, s0 in zip(translation, scale, spacing, strict=True)]
            transforms.append({"type": "translation", "translation": shifted})
        datasets.append({"path": str(i), "coordinateTransformations": transforms})
    multiscale = {"name": name, "axes": axes, "datasets": datasets, "type": method}
    return {"version": "0.5", "multiscales": [multiscale]}
