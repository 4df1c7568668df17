"""The slide view of an Image: openslide's 2-D API over ``yxc`` levels.

``read_region`` follows openslide's conventions (level-0 location, size at the read level, regions
past the edge padded, an alpha channel with ``rgba=True``); ``properties`` carries openslide's
standard ``openslide.*`` keys beside the vendor's. Calling it on an image with other axes raises
:class:`~ziggurat.errors.AxesError` (take a plane of a volume first: :func:`ziggurat.model.planes.plane`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import AxesError, OutOfRangeError
from ..kernels import StreamedResize, resize_area
from ..sources.base import SLIDE_AXES, Metadata, format_number
from .level import Level

#: a thumbnail reads a level whole up to this size, else in strips of about THUMBNAIL_STRIP_BYTES
THUMBNAIL_WHOLE_BYTES = 64 << 20
THUMBNAIL_STRIP_BYTES = 32 << 20


class SlideView:
    """Mixin of :class:`~ziggurat.model.image.Image`: the openslide-style API."""

    levels: tuple[Level, ...]
    metadata: Metadata
    path: str | None

    def _slide(self) -> None:
        if self.metadata.axes != SLIDE_AXES:
            raise AxesError(
                f"{self.path or 'image'} has axes {self.metadata.axes!r}; this call needs a yxc slide "
                "(take a plane of a volume with ziggurat.model.planes.plane)"
            )

    @property
    def mpp(self) -> tuple[float, float] | None:
        """Physical pixel size at level 0 as (x, y) micrometres per pixel, when the file says."""
        return self.metadata.mpp

    @property
    def objective_power(self) -> float | None:
        return self.metadata.objective_power

    @property
    def channels(self) -> int:
        """Channels per pixel (1 where the image has no ``c`` axis)."""
        axes = self.metadata.axes
        return self.levels[0].shape[axes.index("c")] if "c" in axes else 1

    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 (width, height)."""
        return self._level(0).size

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        self._slide()
        return tuple(level.size for level in self.levels)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return tuple(level.downsample for level in self.levels)

    @property
    def properties(self) -> dict[str, str]:
        """Vendor metadata plus openslide's standard ``openslide.*`` keys (for slides)."""
        props = dict(self.metadata.properties)
        if self.metadata.axes != SLIDE_AXES:
            return props
        props["openslide.vendor"] = self.metadata.format
        props["openslide.level-count"] = str(len(self.levels))
        for i, level in enumerate(self.levels):
            props[f"openslide.level[{i}].width"] = str(level.size[0])
            props[f"openslide.level[{i}].height"] = str(level.size[1])
            props[f"openslide.level[{i}].downsample"] = format_number(level.downsample)
            props[f"openslide.level[{i}].tile-height"] = str(level.tile_shape[0])
            props[f"openslide.level[{i}].tile-width"] = str(level.tile_shape[1])
        if "tiff.ImageDescription" in props:
            props.setdefault("openslide.comment", props["tiff.ImageDescription"])
        if self.mpp is not None:
            props["openslide.mpp-x"] = format_number(self.mpp[0])
            props["openslide.mpp-y"] = format_number(self.mpp[1])
        if self.objective_power is not None:
            props["openslide.objective-power"] = f"{self.objective_power:g}"
        return props

    def _level(self, level: int) -> Level:
        self._slide()
        if not isinstance(level, (int, np.integer)) or not 0 <= level < len(self.levels):
            raise OutOfRangeError(f"{self.path or 'image'}: level {level!r} out of range (0..{len(self.levels) - 1})")
        return self.levels[level]

    def read_region(
        self,
        location: tuple[int, int],
        level: int,
        size: tuple[int, int],
        *,
        rgba: bool = False,
        fill: float = 0,
    ) -> np.ndarray:
        """Read ``size`` = (width, height) pixels of ``level`` at level-0 ``location`` = (x, y).

        Parts of the region outside the image are filled with ``fill``; with ``rgba=True`` an
        alpha channel marks them transparent (0) and the image opaque, as openslide does.
        """
        lvl = self._level(level)
        width, height = (int(v) for v in size)
        if width < 0 or height < 0:
            raise OutOfRangeError(f"negative region size {size!r}")
        x = math.floor(location[0] / lvl.downsample)
        y = math.floor(location[1] / lvl.downsample)
        lh, lw, channels = lvl.shape
        y0, y1 = max(y, 0), min(y + height, lh)
        x0, x1 = max(x, 0), min(x + width, lw)
        inside = y1 > y0 and x1 > x0
        if inside and (y0, x0, y1, x1) == (y, x, y + height, x + width) and not rgba:
            return lvl.rect(y, x, height, width)
        out = np.full((height, width, channels + (1 if rgba else 0)), fill, dtype=lvl.dtype)
        if rgba:
            out[..., channels] = 0
        if inside:
            out[y0 - y : y1 - y, x0 - x : x1 - x, :channels] = lvl.rect(y0, x0, y1 - y0, x1 - x0)
            if rgba:
                out[y0 - y : y1 - y, x0 - x : x1 - x, channels] = _opaque(lvl.dtype)
        return out

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The coarsest level whose downsample does not exceed ``downsample`` (openslide's rule)."""
        best = 0
        for i, level in enumerate(self.levels):
            if level.downsample <= downsample + 1e-9:
                best = i
        return best

    def get_thumbnail(self, max_size: tuple[int, int] | int) -> np.ndarray:
        """A whole-image thumbnail no larger than ``max_size`` = (width, height), aspect kept."""
        if isinstance(max_size, int):
            max_size = (max_size, max_size)
        w0, h0 = self.dimensions
        scale = max(w0 / max_size[0], h0 / max_size[1], 1.0)
        out_w, out_h = max(1, round(w0 / scale)), max(1, round(h0 / scale))
        lvl = self.levels[self.get_best_level_for_downsample(scale)]
        lh, lw, channels = lvl.shape
        row_bytes = lw * channels * lvl.dtype.itemsize
        if lh * row_bytes <= THUMBNAIL_WHOLE_BYTES or out_h > lh or out_w > lw:
            return resize_area(lvl[:, :], out_h, out_w)
        # a large level (one-level slides): read it strip by strip, never whole
        rows = max(1, THUMBNAIL_STRIP_BYTES // row_bytes)
        rows = max(lvl.chunks[0], rows - rows % lvl.chunks[0])  # whole stored tiles per strip
        resize = StreamedResize(lvl.shape, lvl.dtype, out_h, out_w)
        for y in range(0, lh, rows):
            resize.add(y, lvl.rect(y, 0, min(rows, lh - y), lw))
        return resize.result()


def openslide_downsample(base: tuple[int, ...], shape: tuple[int, ...], axes: str) -> float:
    """openslide's rule: the mean of the width and height ratios to level 0."""
    y, x = axes.index("y"), axes.index("x")
    return (base[x] / shape[x] + base[y] / shape[y]) / 2


def _opaque(dtype: np.dtype[Any]) -> int | float:
    """The alpha of an opaque pixel: the type's maximum (an int: a float of uint64's would overflow)."""
    return int(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
