"""Tile geometry of DeepZoom and XYZ (google) pyramids: pure arithmetic, no pixels.

Coordinate spaces, named as in openslide's ``deepzoom.py`` so no conversion is ambiguous:

* **level 0** — pixels of the full-resolution image (or of its bounds, with ``limit_bounds``);
* **grid level** — a pyramid level; DeepZoom numbers them coarse to fine (``dz_level`` 0 is
  1 x 1 pixel, the last is full size), XYZ numbers them ``z`` (0 is the level that fits one tile);
* **level pixels** — pixels of one grid level, whose size halves (rounding up) per level;
* **tile address** — ``(col, row)`` of a tile within a grid level.

A grid level ``k`` steps coarser than full size has downsample ``2**k`` from level 0, as
openslide's DeepZoomGenerator and libvips ``dzsave`` both define it.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from numbers import Integral

from ..errors import OutOfRangeError

Rect = tuple[int, int, int, int]  # (x, y, width, height)


class TileGrid:
    """Levels (coarse to fine), tiles per level and tile rectangles of a square-tiled pyramid."""

    def __init__(self, width: int, height: int, tile_size: int, overlap: int, fits: int) -> None:
        """Halve (``width``, ``height``) until both are at most ``fits`` pixels."""
        for name, value, low in (("width", width, 1), ("height", height, 1),
                                 ("tile_size", tile_size, 1), ("overlap", overlap, 0)):  # fmt: skip
            if not _index(value) or value < low:
                raise OutOfRangeError(f"grid {name} must be an integer >= {low}, got {value!r}")
        width, height, tile_size, overlap = (
            int(width),
            int(height),
            int(tile_size),
            int(overlap),
        )
        self.width, self.height = width, height
        self.tile_size, self.overlap = tile_size, overlap
        size = (width, height)
        sizes = [size]
        while size[0] > fits or size[1] > fits:
            size = (max(1, math.ceil(size[0] / 2)), max(1, math.ceil(size[1] / 2)))
            sizes.append(size)
        self.level_dimensions: tuple[tuple[int, int], ...] = tuple(reversed(sizes))
        self.level_tiles: tuple[tuple[int, int], ...] = tuple(
            (math.ceil(w / tile_size), math.ceil(h / tile_size)) for w, h in self.level_dimensions
        )

    @property
    def level_count(self) -> int:
        return len(self.level_dimensions)

    @property
    def tile_count(self) -> int:
        """Tiles in the whole pyramid."""
        return sum(cols * rows for cols, rows in self.level_tiles)

    def downsample(self, level: int) -> int:
        """Level-0 pixels per pixel of grid ``level``: ``2**(finest - level)``."""
        self._check_level(level)
        return int(2 ** (self.level_count - 1 - int(level)))

    def tile_bounds(self, level: int, col: int, row: int) -> Rect:
        """(x, y, width, height) of tile (``col``, ``row``) in ``level`` pixels, overlap included.

        Interior edges gain ``overlap`` pixels; the image's own edges do not (DeepZoom's rule),
        and a tile never reaches past the level (as dzsave and openslide's tiles are cut).
        """
        self._check_level(level)
        cols, rows = self.level_tiles[level]
        if not (_index(col) and _index(row) and 0 <= col < cols and 0 <= row < rows):
            raise OutOfRangeError(f"tile (col {col!r}, row {row!r}) outside level {level} ({cols} x {rows} tiles)")
        w, h = self.level_dimensions[level]
        x, width = self._span(int(col), cols, w)
        y, height = self._span(int(row), rows, h)
        return x, y, width, height

    def level0_bounds(self, level: int, col: int, row: int) -> Rect:
        """The tile's rectangle in level-0 pixels (its level rectangle times the downsample)."""
        x, y, w, h = self.tile_bounds(level, col, row)
        d = self.downsample(level)
        x0, y0 = x * d, y * d
        return x0, y0, min(w * d, self.width - x0), min(h * d, self.height - y0)

    def _span(self, t: int, t_lim: int, z_lim: int) -> tuple[int, int]:
        """Start and length along one axis of tile ``t`` (of ``t_lim``) in a level ``z_lim`` long."""
        z_tl = self.overlap if t != 0 else 0
        z_br = self.overlap if t != t_lim - 1 else 0
        start = self.tile_size * t - z_tl
        return start, min(self.tile_size + z_tl + z_br, z_lim - start)

    def _check_level(self, level: int) -> None:
        if not _index(level) or not 0 <= level < self.level_count:
            raise OutOfRangeError(f"grid level {level!r} outside 0..{self.level_count - 1}")

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.width}x{self.height} tile={self.tile_size} "
            f"overlap={self.overlap} levels={self.level_count}>"
        )


class DeepZoomGrid(TileGrid):
    """DeepZoom: levels down to 1 x 1 pixel, tiles of ``tile_size`` plus ``overlap`` per interior edge."""

    def __init__(self, width: int, height: int, tile_size: int = 254, overlap: int = 1) -> None:
        super().__init__(width, height, tile_size, overlap, fits=1)


class XYZGrid(TileGrid):
    """XYZ / google layout (``dzsave --layout google``): z = 0 fits one tile; no overlap.

    ``tile_bounds`` gives the image part of a tile; the written tile is always
    ``tile_size`` square, padded with background right and below.
    """

    def __init__(self, width: int, height: int, tile_size: int = 256) -> None:
        super().__init__(width, height, tile_size, 0, fits=tile_size)


def _index(value: object) -> bool:
    """An integer usable as an index (NumPy integers included, bools not)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


DZI_NAMESPACE = "http://schemas.microsoft.com/deepzoom/2008"


def dzi_xml(width: int, height: int, tile_size: int, overlap: int, format: str) -> str:
    """The DeepZoom ``.dzi`` descriptor of a ``width`` x ``height`` image, as libvips and openslide write it."""
    root = ET.Element("Image", {"xmlns": DZI_NAMESPACE, "Format": format,
                                "Overlap": str(overlap), "TileSize": str(tile_size)})  # fmt: skip
    ET.SubElement(root, "Size", {"Width": str(width), "Height": str(height)})
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
