"""Planes of volumes as a radiologist reads them: oriented by the affine, square screen pixels.

``display_plane(volume, "z", 40)`` is :func:`~ziggurat.model.planes.plane` turned so that, in the
radiological convention, anterior is up in axial planes, superior up in coronal and sagittal ones,
and the patient's left is on the screen's right (``convention="neurological"`` puts the patient's
right there; sagittal planes show anterior on the left either way). Which storage axis becomes the
screen's rows or columns, and whether either is flipped, follows from the affine (RAS+), so files
stored LAS, LPS or permuted all look the same. Anisotropic planes are stretched along their coarser
axis (nearest sample) so a screen pixel is square: a CT coronal plane of 0.5 mm x 5 mm voxels is
ten times taller than it is stored. ``orientation(...).labels`` names each screen edge (R/L, A/P, S/I).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AxesError
from ..sources.base import Box, Metadata, NoAssociatedImages
from .image import Image
from .level import Level
from .planes import plane
from .volume import PLANE_NAMES

CONVENTIONS = ("radiological", "neurological")
#: world (RAS+) direction of the screen's right and down, per held axis, radiological
SCREEN = {"z": ((-1, 0, 0), (0, -1, 0)), "y": ((-1, 0, 0), (0, 0, -1)), "x": ((0, -1, 0), (0, 0, -1))}
LETTERS = (("R", "L"), ("A", "P"), ("S", "I"))  # +x, -x; +y, -y; +z, -z in RAS+
MAX_STRETCH = 32


@dataclass(frozen=True)
class Orientation:
    """How a stored plane maps to the screen: transposed and/or flipped, and each edge's letter."""

    transpose: bool  # the screen's rows run along the plane's stored columns
    flip_rows: bool
    flip_cols: bool
    labels: dict[str, str]  # top, bottom, left, right
    row_mm: float  # millimetres per stored sample along the screen's rows (down) and columns (right)
    col_mm: float


def _letter(direction: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(direction)))
    return LETTERS[axis][0 if direction[axis] > 0 else 1]


def orientation(volume: Image, axis: str, convention: str = "radiological") -> Orientation:
    """How plane ``axis`` (z, y, x or axial, coronal, sagittal) of ``volume`` is drawn."""
    if convention not in CONVENTIONS:
        raise AxesError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    held = PLANE_NAMES.get(axis, axis)
    rows, cols = (a for a in "zyx" if a != held)
    linear = volume.affine[:3, :3]
    direction = {a: linear[:, "xyz".index(a)] for a in "zyx"}  # world step of one voxel along each axis
    step = dict(zip("zyx", volume.spacing))
    right, down = (np.array(v, dtype=np.float64) for v in SCREEN[held])
    if convention == "neurological" and held != "x":
        right = -right
    unit = {a: direction[a] / (np.linalg.norm(direction[a]) or 1.0) for a in (rows, cols)}
    keep = abs(unit[cols] @ right) + abs(unit[rows] @ down)
    swap = abs(unit[rows] @ right) + abs(unit[cols] @ down)
    transpose = swap > keep
    screen_rows, screen_cols = (cols, rows) if transpose else (rows, cols)
    flip_rows = bool(unit[screen_rows] @ down < 0)
    flip_cols = bool(unit[screen_cols] @ right < 0)
    to_right = unit[screen_cols] * (-1 if flip_cols else 1)
    to_bottom = unit[screen_rows] * (-1 if flip_rows else 1)
    labels = {"right": _letter(to_right), "left": _letter(-to_right),
              "bottom": _letter(to_bottom), "top": _letter(-to_bottom)}  # fmt: skip
    return Orientation(bool(transpose), flip_rows, flip_cols, labels, step[screen_rows], step[screen_cols])


def stretch(o: Orientation) -> tuple[float, float]:
    """Screen samples per stored sample along rows and columns, so that screen pixels are square."""
    finest = min(o.row_mm, o.col_mm)
    if finest <= 0:
        return 1.0, 1.0
    return min(o.row_mm / finest, MAX_STRETCH), min(o.col_mm / finest, MAX_STRETCH)


def _samples(start: int, stop: int, stored: int, shown: int, flip: bool) -> np.ndarray:
    """The stored index drawn at each screen index in ``[start, stop)`` (nearest sample)."""
    index = ((np.arange(start, stop) + 0.5) * stored / shown).astype(np.int64)
    np.clip(index, 0, stored - 1, out=index)
    return stored - 1 - index if flip else index


class OrientedReader:
    """A ``yxc`` plane level drawn on screen: transposed, flipped and stretched on read."""

    def __init__(self, level: Level, o: Orientation, factors: tuple[float, float]) -> None:
        self._level, self._o = level, o
        h, w, c = level.shape
        self._stored = (w, h) if o.transpose else (h, w)  # stored extent along the screen's rows, cols
        self._shown = tuple(max(1, math.ceil(n * f)) for n, f in zip(self._stored, factors))
        self.shape: tuple[int, ...] = (*self._shown, c)
        self.dtype: np.dtype[Any] = level.dtype
        th, tw, _ = level.chunks
        self.chunks: tuple[int, ...] = ((tw, th) if o.transpose else (th, tw)) + (c,)

    def read(self, box: Box) -> np.ndarray:
        (y0, y1), (x0, x1), (c0, c1) = box
        rows = _samples(y0, y1, self._stored[0], self._shown[0], self._o.flip_rows)
        cols = _samples(x0, x1, self._stored[1], self._shown[1], self._o.flip_cols)
        r0, r1, k0, k1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        if self._o.transpose:  # the screen's rows are stored columns
            block = self._level.reader.read(((k0, k1), (r0, r1), (c0, c1))).transpose(1, 0, 2)
        else:
            block = self._level.reader.read(((r0, r1), (k0, k1), (c0, c1)))
        return np.ascontiguousarray(block[rows - r0][:, cols - k0])


class DisplaySource(NoAssociatedImages):
    """Every level of one plane, oriented for the screen."""

    name = "display"

    def __init__(self, flat: Image, o: Orientation) -> None:
        factors = stretch(o)
        self.levels = [OrientedReader(level, o, factors) for level in flat.levels]
        pixel_mm = min(o.row_mm, o.col_mm)
        known = flat.metadata.mpp is not None
        self.metadata = Metadata.slide(flat.format, (pixel_mm * 1000,) * 2 if known else None,
                                       channel_names=list(flat.channel_names),
                                       channel_colors=list(flat.channel_colors))  # fmt: skip

    def close(self) -> None:
        pass


def display_plane(volume: Image, axis: str, index: int | None = None, *, t: int = 0,
                  convention: str = "radiological") -> Image:  # fmt: skip
    """Plane ``index`` (default the middle) along ``axis`` of ``volume``, oriented and with square pixels."""
    return _display(volume, axis, index, t, convention)


def _display(volume: Image, axis: str, index: int | None, t: int, convention: str) -> Image:
    o = orientation(volume, axis, convention)
    flat = plane(volume, axis, index, t=t)
    reopen = (_display, (volume, axis, index, t, convention))
    return Image(
        DisplaySource(flat, o), volume.path, "display", reopen=reopen, identity=f"{flat.identity}|{convention}"
    )
