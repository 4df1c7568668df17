"""One row of the ``images`` table from an opened Image: geometry, checksum, foreground statistics."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model.image import Image

#: a slide pixel is tissue when it is not near-white and has some colour (grey background is not)
WHITE, CHROMA = 220, 12
#: a volume voxel is foreground above this fraction of the way from its minimum to its 99th percentile
VOLUME_THRESHOLD = 0.1


def sha256(paths: Sequence[str | os.PathLike[str]]) -> str:
    """SHA-256 of the files' bytes in the given order (a series of slices hashes as one)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def foreground(image: Image) -> tuple[float, float | None, float | None]:
    """(fraction, mean, std) of the foreground on the coarsest level: tissue for slides, voxels above
    a low threshold for volumes."""
    data = np.asarray(image.levels[-1][...])
    if image.axes == "yxc" and data.shape[-1] >= 3 and data.dtype == np.uint8:
        rgb = data[..., :3].astype(np.int16)
        mask = (rgb.min(axis=-1) < WHITE) & (rgb.max(axis=-1) - rgb.min(axis=-1) > CHROMA)
        values = rgb.mean(axis=-1)
    else:
        values = data.astype(np.float64)
        low, high = float(values.min()), float(np.percentile(values, 99)) if values.size else 0.0
        mask = values > low + VOLUME_THRESHOLD * (high - low) if high > low else np.zeros(values.shape, bool)
    if not mask.any():
        return 0.0, None, None
    picked = values[mask]
    return float(mask.mean()), float(picked.mean()), float(picked.std())


def describe(image: Image, stats_from: Image | None = None) -> dict[str, Any]:
    """The geometry columns of an image's row; foreground statistics from ``stats_from`` (a stored copy,
    cheaper to reduce) or the image itself."""
    mpp = image.metadata.mpp
    fraction, mean, std = foreground(stats_from or image)
    return {
        "format": image.format,
        "axes": image.axes,
        "shape": list(image.shape),
        "scale": None if image.scale is None else list(image.scale),
        "units": [u or "" for u in image.units],
        "mpp_x": None if mpp is None else mpp[0],
        "mpp_y": None if mpp is None else mpp[1],
        "dtype": str(image.dtype),
        "levels": image.level_count,
        "nbytes": int(np.prod(image.shape)) * image.dtype.itemsize,
        "fg_fraction": fraction,
        "fg_mean": mean,
        "fg_std": std,
    }
