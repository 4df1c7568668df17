"""Planes of N-D images as 2-D ``yxc`` Images: what the tile service and the server render.

``plane(volume, "z", 40)`` is the axial plane 40 at every level of the volume (a coarser level's
plane is the one at the same physical position), read lazily: a tile of the plane reads only that
rectangle of that slice. Rows and columns are the two remaining spatial axes in storage order
(z x for coronal, z y for sagittal); a leading ``t`` is fixed (``t=``), a ``c`` axis becomes the
channels. A 2-D image with other axes (``yx``, ``cyx``) is reordered to ``yxc`` the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import AxesError, OutOfRangeError
from ..sources.base import SLIDE_AXES, Box, Metadata, NoAssociatedImages
from .image import Image
from .level import Level
from .volume import PLANE_NAMES


class PlaneReader:
    """A ``yxc`` view of one level: ``fixed`` axes held at an index, ``rows``/``cols`` axes spanned."""

    def __init__(self, level: Level, fixed: dict[str, int], rows: str, cols: str) -> None:
        axes = level.axes
        self._level = level
        self._fixed = fixed
        self._rows, self._cols = rows, cols
        self._channel = "c" in axes
        # how the level's own axes order the three output axes (to transpose what a read returns)
        kept = [a for a in axes if a not in fixed]
        out = [rows, cols, *(["c"] if self._channel else [])]
        self._order = tuple(kept.index(a) for a in out)
        n = dict(zip(axes, level.shape))
        chunks = dict(zip(axes, level.chunks))
        channels = n["c"] if self._channel else 1
        self.shape: tuple[int, ...] = (n[rows], n[cols], channels)
        self.dtype: np.dtype[Any] = level.dtype
        self.chunks: tuple[int, ...] = (chunks[rows], chunks[cols], channels)

    def read(self, box: Box) -> np.ndarray:
        (y0, y1), (x0, x1), (c0, c1) = box
        want = {self._rows: (y0, y1), self._cols: (x0, x1), "c": (c0, c1)}
        level_box = tuple(
            (self._fixed[a], self._fixed[a] + 1) if a in self._fixed else want[a] for a in self._level.axes
        )
        block = self._level.reader.read(level_box)
        block = block.reshape([b - a for (a, b), ax in zip(level_box, self._level.axes) if ax not in self._fixed])
        block = block.transpose(self._order)
        if not self._channel:
            block = block[..., None][..., c0:c1]
        return np.ascontiguousarray(block)


class PlaneSource(NoAssociatedImages):
    """The planes of one image at every level, as a slide source."""

    name = "plane"

    def __init__(self, image: Image, axis: str | None, index: int, t: int) -> None:
        meta, axes = image.metadata, image.metadata.axes
        spatial = [a for a in "zyx" if a in axes]
        if axis is None:  # a 2-D image: rows y, columns x
            if "z" in axes:
                raise AxesError(f"{image.path or 'image'} is a volume: name the plane's axis (z, y or x)")
            rows, cols, held = "y", "x", None
        else:
            held = PLANE_NAMES.get(axis)
            if held is None or held not in axes:
                raise AxesError(f"plane axis must be one of z, y, x (or axial, coronal, sagittal) in {axes!r}")
            rows, cols = (a for a in spatial if a != held)
        base = dict(zip(axes, image.levels[0].shape))
        if held is not None and not 0 <= index < base[held]:
            raise OutOfRangeError(f"{held} = {index} outside 0..{base[held] - 1}")
        if "t" in axes and not 0 <= t < base["t"]:
            raise OutOfRangeError(f"t = {t} outside 0..{base['t'] - 1}")
        self.levels: list[PlaneReader] = []
        for level in image.levels:
            n = dict(zip(level.axes, level.shape))
            fixed = {"t": t} if "t" in axes else {}
            if held is not None:  # the plane at the same physical position in a coarser level
                fixed[held] = min(index * n[held] // base[held], n[held] - 1)
            self.levels.append(PlaneReader(level, fixed, rows, cols))
        scale = dict(zip(axes, meta.scale)) if meta.scale else None
        unit = dict(zip(axes, meta.units)).get(rows) if meta.units else None
        to_um = {"millimeter": 1000.0, "micrometer": 1.0, "nanometer": 1e-3}.get(unit or "", None)
        mpp = (scale[cols] * to_um, scale[rows] * to_um) if scale and to_um else None
        self.metadata = Metadata.slide(
            meta.format,
            mpp,
            channel_names=list(meta.channel_names),
            channel_colors=list(meta.channel_colors),
            fluorescence=meta.fluorescence,
        )

    def close(self) -> None:
        pass


def plane(image: Image, axis: str | None = None, index: int | None = None, *, t: int = 0) -> Image:
    """``image`` itself when it is a slide; else its plane ``index`` along ``axis`` as a ``yxc`` Image
    (default: the middle plane), or a 2-D image's axes reordered to ``yxc``."""
    if image.metadata.axes == SLIDE_AXES:
        return image
    if axis is not None and index is None:
        held = PLANE_NAMES.get(axis, axis)
        n = dict(zip(image.metadata.axes, image.levels[0].shape)).get(held, 1)
        index = n // 2
    return _plane(image, axis, index or 0, t)


def _plane(image: Image, axis: str | None, index: int, t: int) -> Image:
    return Image(
        PlaneSource(image, axis, index, t),
        image.path,
        "plane",
        reopen=(_plane, (image, axis, index, t)),
        identity=f"{image.identity}|plane {axis}={index} t={t}",
    )
