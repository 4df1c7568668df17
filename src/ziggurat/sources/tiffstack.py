"""TIFF stacks as volumes: a folder of 2-D grey slices (sorted by name) or one multi-page TIFF.

Reads are lazy per z range: only the slices (pages) a request touches are decoded, by tifffile.
TIFF has no standard voxel size, so spacing is ``spacing=(z, y, x)`` when given, else 1 mm each
(``meta.extra["tiff"]["spacing_known"]`` says which).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

from ..errors import CorruptImageError, UnsupportedFormatError
from .omezarr import VolumeMeta


class StackReader:
    """Slices of a TIFF stack, decoded on demand for the z range asked for."""

    def __init__(self, path: Path, files: list[Path] | None) -> None:
        self._path = path
        self._files = files
        try:
            with tifffile.TiffFile(files[0] if files else path) as tif:
                page = tif.pages[0]
                plane_shape, dtype = page.shape, page.dtype
                depth = len(files) if files else len(tif.pages)
        except (OSError, ValueError, tifffile.TiffFileError, IndexError) as exc:
            raise CorruptImageError(f"{path}: not a readable TIFF stack: {exc}") from exc
        if len(plane_shape) != 2 or dtype is None or dtype.kind not in "uif":
            raise UnsupportedFormatError(f"{path}: slices must be 2-D grey images, got {plane_shape} {dtype}")
        self.shape = (depth, *plane_shape)
        self.dtype = np.dtype(dtype)
        self.chunk_shape = (1, *plane_shape)

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        (z0, z1), (y0, y1), (x0, x1) = box
        try:
            if self._files is not None:
                planes = [tifffile.imread(f) for f in self._files[z0:z1]]
            else:
                planes = [tifffile.imread(self._path, key=z) for z in range(z0, z1)]
        except (OSError, ValueError, tifffile.TiffFileError) as exc:
            raise CorruptImageError(f"{self._path}: cannot read slices {z0}-{z1}: {exc}") from exc
        if any(p.shape != self.shape[1:] or p.dtype != self.dtype for p in planes):
            raise CorruptImageError(f"{self._path}: slices {z0}-{z1} differ in shape or type from the first")
        if not planes:
            return np.empty((0, y1 - y0, x1 - x0), self.dtype)
        return np.stack([p[y0:y1, x0:x1] for p in planes])


def open_stack(path: str | os.PathLike, *, spacing: Sequence[float] | None = None):
    """Open a folder of TIFF slices or a multi-page TIFF as a (z, y, x) Volume."""
    from ..model.volume import Volume

    path = Path(path)
    files = None
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in (".tif", ".tiff") and not f.name.startswith("."))
        if not files:
            raise UnsupportedFormatError(f"{path}: no .tif slices in this folder")
    reader = StackReader(path, files)
    sz, sy, sx = (float(s) for s in spacing) if spacing else (1.0, 1.0, 1.0)
    meta = VolumeMeta(("z", "y", "x"), (sz, sy, sx), np.diag([sx, sy, sz, 1.0]), {"tiff": {"spacing_known": bool(spacing)}})
    return Volume([reader], meta, os.fspath(path), "tiff-stack")
