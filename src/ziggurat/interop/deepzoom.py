"""openslide-python's ``DeepZoomGenerator``, with tiles cut by ziggurat's tile path.

The grid is openslide's exactly (levels, tiles, ``get_tile_coordinates``, ``get_tile_dimensions``
and ``get_dzi`` agree with ``openslide.deepzoom`` on every tile, ``limit_bounds`` included). For
a slide opened by :class:`ziggurat.openslide.OpenSlide`, ``get_tile`` reads through
:meth:`ziggurat.tiles.TileService.tile_pixels` — the same pixels the server's DeepZoom tiles have:
stored power-of-two levels read directly, missing ones made by 2 x 2 means and cached — instead of
openslide's read, composite and Lanczos rescale, which it still does for any other slide object
(an :class:`~ziggurat.interop.openslide.ImageSlide`, a real ``openslide.OpenSlide``) and for tiles
of a bounded region that does not start at the slide's origin.

Coordinate planes, prefixed as in openslide: ``t_`` tile column/row in a DeepZoom level, ``z_``
pixels of a DeepZoom level, ``l_`` pixels of a slide level, ``l0_`` pixels of slide level 0.
"""

from __future__ import annotations

import math
import threading
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
from PIL import Image

from ..tiles.grid import DZI_NAMESPACE, DeepZoomGrid
from ..tiles.readahead import RowReadAhead
from ..tiles.service import TileService
from .openslide import PROPERTY_NAME_BACKGROUND_COLOR as BACKGROUND
from .openslide import (
    PROPERTY_NAME_BOUNDS_HEIGHT,
    PROPERTY_NAME_BOUNDS_WIDTH,
    PROPERTY_NAME_BOUNDS_X,
    PROPERTY_NAME_BOUNDS_Y,
    AbstractSlide,
    OpenSlide,
    rgb8,
)

ReadArgs = tuple[tuple[int, int], int, tuple[int, int]]  # read_region's (l0_location, slide level, l_size)
_service: TileService | None = None
_service_lock = threading.Lock()


def tile_service() -> TileService:
    """The process's uncached TileService for generated tiles (it keeps each slide's levels)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = TileService("none://")
        return _service


class DeepZoomGenerator:
    """Deep Zoom tiles and ``.dzi`` metadata of a slide object."""

    BOUNDS_OFFSET_PROPS = (PROPERTY_NAME_BOUNDS_X, PROPERTY_NAME_BOUNDS_Y)
    BOUNDS_SIZE_PROPS = (PROPERTY_NAME_BOUNDS_WIDTH, PROPERTY_NAME_BOUNDS_HEIGHT)

    def __init__(self, osr: AbstractSlide | Any, tile_size: int = 254, overlap: int = 1,
                 limit_bounds: bool = False) -> None:  # fmt: skip
        """``tile_size`` + 2 x ``overlap`` should be a power of two for viewers; ``limit_bounds``
        renders only the slide's non-empty region (``openslide.bounds-*`` properties)."""
        self._osr = osr
        self._z_t_downsample = tile_size
        self._z_overlap = overlap
        self._limit_bounds = limit_bounds
        props = osr.properties
        l0_dimensions = osr.dimensions
        if limit_bounds:
            self._l0_offset = tuple(int(props.get(p, 0)) for p in self.BOUNDS_OFFSET_PROPS)
            size_scale = [int(props.get(p, lim)) / lim for p, lim in zip(self.BOUNDS_SIZE_PROPS, l0_dimensions)]
            self._l_dimensions = tuple(
                (math.ceil(w * size_scale[0]), math.ceil(h * size_scale[1])) for w, h in osr.level_dimensions
            )
        else:
            self._l0_offset, self._l_dimensions = (0, 0), tuple(osr.level_dimensions)
        self._grid = DeepZoomGrid(*self._l_dimensions[0], tile_size, overlap)
        levels = self._grid.level_count
        l0_z_downsamples = [2 ** (levels - z - 1) for z in range(levels)]
        self._slide_from_dz_level = tuple(osr.get_best_level_for_downsample(d) for d in l0_z_downsamples)
        self._l0_l_downsamples = tuple(osr.level_downsamples)
        self._l_z_downsamples = tuple(
            d / self._l0_l_downsamples[level] for d, level in zip(l0_z_downsamples, self._slide_from_dz_level)
        )
        self._bg_color = "#" + props.get(BACKGROUND, "ffffff")
        # ziggurat's tile path serves the grid when it is the whole slide's grid
        whole = self._l0_offset == (0, 0) and self._l_dimensions[0] == tuple(l0_dimensions)
        self._fast = osr if isinstance(osr, OpenSlide) and whole else None
        if self._fast is not None:
            slide, size, overlap_ = self._fast, tile_size, overlap

            def read(z: int, col: int, row: int) -> np.ndarray:  # slide.image: set_cache may reopen it
                return tile_service().tile_pixels(slide.image, z, col, row, grid="dz", tile_size=size,
                                                  overlap=overlap_)  # fmt: skip

            self._ahead = RowReadAhead(read, lambda z: self._grid.level_tiles[z][0])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self._osr!r}, tile_size={self._z_t_downsample!r}, "
                f"overlap={self._z_overlap!r}, limit_bounds={self._limit_bounds!r})")  # fmt: skip

    @property
    def level_count(self) -> int:
        """The number of Deep Zoom levels in the image."""
        return self._grid.level_count

    @property
    def level_tiles(self) -> tuple[tuple[int, int], ...]:
        """(tiles_x, tiles_y) of each Deep Zoom level."""
        return self._grid.level_tiles

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """(pixels_x, pixels_y) of each Deep Zoom level."""
        return self._grid.level_dimensions

    @property
    def tile_count(self) -> int:
        """The number of Deep Zoom tiles in the image."""
        return self._grid.tile_count

    def get_tile(self, level: int, address: tuple[int, int]) -> Image.Image:
        """The RGB PIL image of tile ``address`` = (col, row) of Deep Zoom ``level``."""
        args, z_size = self._get_tile_info(level, address)
        slide = self._fast
        if slide is not None:
            slide.image  # a closed or latched slide raises openslide's error here  # noqa: B018
            pixels = slide._guard(lambda: self._ahead.get(level, *address))
            tile = Image.fromarray(rgb8(pixels), "RGB")
            if slide._profile is not None:
                tile.info["icc_profile"] = slide._profile
            return tile
        region = self._osr.read_region(*args)
        profile = region.info.get("icc_profile")
        tile = Image.composite(region, Image.new("RGB", region.size, self._bg_color), region)
        if tile.size != z_size:
            tile.thumbnail(z_size, Image.Resampling.LANCZOS)
        if profile is not None:
            tile.info["icc_profile"] = profile
        return tile

    def _get_tile_info(self, dz_level: int, t_location: tuple[int, int]) -> tuple[ReadArgs, tuple[int, int]]:
        """read_region's arguments for a tile, and the tile's final size (openslide's arithmetic)."""
        if dz_level < 0 or dz_level >= self.level_count:
            raise ValueError("Invalid level")
        t_lims = self.level_tiles[dz_level]
        if len(t_location) != 2:
            raise ValueError("Invalid address")
        for t, t_lim in zip(t_location, t_lims):
            if t < 0 or t >= t_lim:
                raise ValueError("Invalid address")
        slide_level = self._slide_from_dz_level[dz_level]
        z_tl = [self._z_overlap * int(t != 0) for t in t_location]
        z_br = [self._z_overlap * int(t != t_lim - 1) for t, t_lim in zip(t_location, t_lims)]
        z_size = [
            min(self._z_t_downsample, z_lim - self._z_t_downsample * t) + tl + br
            for t, z_lim, tl, br in zip(t_location, self.level_dimensions[dz_level], z_tl, z_br)
        ]
        l_location = [self._l_z_downsamples[dz_level] * (self._z_t_downsample * t - tl)
                      for t, tl in zip(t_location, z_tl)]  # fmt: skip
        l0_location = [int(self._l0_l_downsamples[slide_level] * loc + off)
                       for loc, off in zip(l_location, self._l0_offset)]  # fmt: skip
        l_size = [
            int(min(math.ceil(self._l_z_downsamples[dz_level] * z), l_lim - math.ceil(loc)))
            for loc, z, l_lim in zip(l_location, z_size, self._l_dimensions[slide_level])
        ]
        return ((l0_location[0], l0_location[1]), slide_level, (l_size[0], l_size[1])), (z_size[0], z_size[1])

    def get_tile_coordinates(self, level: int, address: tuple[int, int]) -> ReadArgs:
        """The ``read_region`` arguments of a tile (``get_tile`` is what most callers want)."""
        return self._get_tile_info(level, address)[0]

    def get_tile_dimensions(self, level: int, address: tuple[int, int]) -> tuple[int, int]:
        """(pixels_x, pixels_y) of a tile."""
        return self._get_tile_info(level, address)[1]

    def get_dzi(self, format: str) -> str:
        """The ``.dzi`` XML of the image, tiles in ``format`` (``"jpeg"`` or ``"png"``), as openslide writes it."""
        image = ET.Element("Image", TileSize=str(self._z_t_downsample), Overlap=str(self._z_overlap),
                           Format=format, xmlns=DZI_NAMESPACE)  # fmt: skip
        w, h = self._l_dimensions[0]
        ET.SubElement(image, "Size", Width=str(w), Height=str(h))
        return ET.tostring(image, encoding="unicode")
