"""What an OME-Zarr store says besides pixels: chunk presets, the NGFF 0.5 ``ome`` attribute, codecs.

Pure functions (no I/O): the builder asks them for chunk shapes and the group's attributes. The
``ome`` attribute holds one multiscale (axes with type and unit, a ``scale`` per level and, for
axis-aligned affines with positive steps, a ``translation`` shifted by half a coarser voxel); the
``ziggurat`` attribute holds the world affine and the source's own metadata (e.g. the verbatim NIfTI
header) so that exporting back is exact. Units come from the source only: an axis whose unit the
source does not know gets none (never a made-up millimetre). The ``omero`` block names each channel,
gives its colour and its display window (measured on the coarsest level), so napari and ome-zarr-py
show what the viewer shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ...errors import UnsupportedFormatError
from ...render.style import PALETTE
from ...sources.base import Metadata

PRESETS = ("axial", "isotropic", "auto")
ISOTROPIC = 32  # 32³: a random 64³ patch decodes 27 x 128 KiB instead of 8 x 1 MiB (docs/volumes.md)
#: what ``--unit`` accepts, to NGFF (UDUNITS-2) names
UNIT_NAMES = {"nm": "nanometer", "um": "micrometer", "µm": "micrometer", "micron": "micrometer",
              "mm": "millimeter", "cm": "centimeter", "m": "meter", "angstrom": "angstrom",
              **{n: n for n in ("nanometer", "micrometer", "millimeter", "centimeter", "meter")}}  # fmt: skip
#: the window's percentiles, as the viewer's auto window (render.style's default)
WINDOW_PERCENTILES = (0.5, 99.5)
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
    """The unit of axis ``index`` as the metadata says it; None when the source does not know."""
    return meta.units[index] if index < len(meta.units) else None


def unit_name(text: str) -> str:
    """The NGFF name of a unit given as ``nm``, ``um``/``µm``, ``mm``, ... (UnsupportedFormatError if unknown)."""
    try:
        return UNIT_NAMES[text.strip().lower() if text != "µm" else text]
    except KeyError:
        raise UnsupportedFormatError(f"unknown unit {text!r}; use one of nm, um, mm, cm, m") from None


def with_spacing(meta: Metadata, spacing: Sequence[float] | None, unit: str | None) -> Metadata:
    """``meta`` with the spatial axes' steps (in z y x order of those present) and/or unit replaced.

    New steps drop the affine (it no longer agrees with them); the source's other facts stay.
    """
    spatial = [i for i, a in enumerate(meta.axes) if a in "zyx"]
    scale = list(meta.scale or (1.0,) * len(meta.axes))
    units = list(meta.units or (None,) * len(meta.axes))
    affine = meta.affine
    if spacing is not None:
        if len(spacing) != len(spatial) or min(spacing) <= 0:
            names = ",".join(meta.axes[i].upper() for i in spatial)
            raise UnsupportedFormatError(f"spacing: expected {len(spatial)} positive steps ({names}), got {spacing}")
        for i, step in zip(spatial, spacing):
            scale[i] = float(step)
        affine = None
    if unit is not None:
        for i in spatial:
            units[i] = unit_name(unit)
    return replace(meta, scale=tuple(scale), units=tuple(units), affine=affine)


def omero(meta: Metadata, coarsest: np.ndarray, shape: Sequence[int]) -> dict[str, Any]:
    """The ``omero`` block: per channel its label, colour (RRGGBB) and window, from ``coarsest``
    (the smallest level, in ``meta.axes`` order; ``shape`` is level 0's); ``greyscale`` for one
    channel, else ``color``."""
    axes = meta.axes
    per_channel = np.moveaxis(coarsest, axes.index("c"), 0) if "c" in axes else coarsest[None]
    dtype = coarsest.dtype
    rgb = len(per_channel) == 3 and dtype == np.uint8 and not meta.channel_names
    names = ["red", "green", "blue"] if rgb else meta.channel_names
    channels = []
    for i, values in enumerate(per_channel):
        finite = values[np.isfinite(values)] if dtype.kind == "f" else values.ravel()
        start, end = (float(v) for v in np.percentile(finite, WINDOW_PERCENTILES)) if finite.size else (0.0, 1.0)
        if dtype == np.uint8:
            start, end = 0.0, 255.0  # as the viewer draws 8-bit channels
        if dtype.kind in "ui":
            low, high = float(np.iinfo(dtype).min), float(np.iinfo(dtype).max)
        else:
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        channels.append({
            "label": names[i] if i < len(names) else str(i),
            "color": _color(meta, i, len(per_channel)),
            "window": {"min": low, "max": high, "start": start, "end": max(end, start + 1e-6)},
            "active": True,
        })  # fmt: skip
    model = "greyscale" if len(channels) == 1 else "color"
    return {"channels": channels, "rdefs": {"model": model, "defaultT": 0, "defaultZ": _middle(meta, shape)}}


def _color(meta: Metadata, index: int, count: int) -> str:
    """RRGGBB: the file's colour, else white for one channel, else the viewer's palette."""
    given = meta.channel_colors[index] if index < len(meta.channel_colors) else None
    if given is not None:
        return "".join(f"{v:02X}" for v in given)
    return "FFFFFF" if count == 1 else PALETTE[index % len(PALETTE)].lstrip("#").upper()


def _middle(meta: Metadata, shape: Sequence[int]) -> int:
    return int(shape[meta.axes.index("z")] // 2) if "z" in meta.axes else 0


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
