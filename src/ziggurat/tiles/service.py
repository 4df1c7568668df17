"""The tile engine: DeepZoom / XYZ tiles, regions and thumbnails — read, style, encode, cache.

Every request follows one path: look up the cache key (source identity, place, grid, style,
encoding); on a miss read pixels from the power-of-two level for the tile's downsample (stored, or
synthesized from the next finer one, see :mod:`ziggurat.tiles.levels`), render them with the style,
encode, store. Per-image state (the level list, resolved styles, the source identity) is kept in
a weak map, so it lives exactly as long as the Image.
"""

from __future__ import annotations

import io
import itertools
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..cache import TileCache, get_default, shared_cache
from ..cache.keys import source_identity, tile_key
from ..errors import OutOfRangeError
from .grid import DeepZoomGrid, TileGrid, XYZGrid
from ..model.image import Image
from ..model.level import Level
from ..render.encode import check_quality, encoding_for
from ..render.style import Renderer, Style
from .levels import power_levels

GRIDS = ("dz", "xyz")
RAW_ENCODINGS = ("numpy", "npy", "tiff")


@dataclass
class _State:
    """What the engine remembers about one Image."""

    identity: str
    levels: list[Level] = field(default_factory=list)
    renderers: dict[str, Renderer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_states: weakref.WeakKeyDictionary[Image, _State] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()
_anonymous = itertools.count()


def _state(image: Image) -> _State:
    state = _states.get(image)
    if state is None:
        with _states_lock:
            # in-memory images get a never-reused token (an id() can recur after garbage collection)
            identity = image.identity
            state = _states.setdefault(image, _State(identity))
    return state


@lru_cache(maxsize=256)
def grid_for(kind: str, width: int, height: int, tile_size: int, overlap: int) -> TileGrid:
    """The DeepZoom or XYZ grid of a ``width`` x ``height`` image."""
    if kind == "dz":
        return DeepZoomGrid(width, height, tile_size, overlap)
    if kind == "xyz":
        if overlap:
            raise OutOfRangeError("xyz tiles have no overlap")
        return XYZGrid(width, height, tile_size)
    raise OutOfRangeError(f"grid: unknown {kind!r} (choose from {', '.join(GRIDS)})")


def level_for(image: Image, exponent: int) -> Level:
    """The level with downsample ``2**exponent``, stored or synthesized (made once per Image)."""
    state = _state(image)
    if not state.levels:
        with state.lock:
            if not state.levels:  # every halving down to 1 x 1 pixel, built once (they are lazy)
                state.levels = power_levels(image, (max(image.dimensions) - 1).bit_length() + 1)
    if not 0 <= exponent < len(state.levels):
        raise OutOfRangeError(f"no level with downsample 2**{exponent} (0..{len(state.levels) - 1})")
    return state.levels[exponent]


def renderer_for(image: Image, style: Style) -> Renderer:
    """``style`` resolved against ``image`` once (auto windows measure the image)."""
    state = _state(image)
    renderer = state.renderers.get(style.key)
    if renderer is None:
        renderer = state.renderers.setdefault(style.key, style.resolve(image))
    return renderer


def _render(image: Image, pixels: np.ndarray, style: Style | None, encoding: str) -> np.ndarray:
    """Apply ``style``; without one, 8-bit grey/RGB passes through and raw encodings keep data."""
    if style is None:
        if encoding in RAW_ENCODINGS:
            return pixels
        if pixels.dtype == np.uint8 and pixels.shape[2] in (1, 3, 4):
            return pixels[:, :, :3] if pixels.shape[2] == 4 else pixels
        style = Style()
    return renderer_for(image, style)(pixels)


def _produce(image: Image, place: dict[str, object], read: Callable[[], np.ndarray], *,
             style: Any, encoding: str, quality: int, cache: str | TileCache | None,
             stored: Callable[[], bytes | None] | None = None) -> bytes | np.ndarray:  # fmt: skip
    """The one request path: cache lookup, read, render, encode, store.

    ``stored`` may return the file's own JPEG bytes for an unstyled JPEG request (pass-through).
    """
    codec = encoding_for(encoding)
    quality = check_quality(quality)
    parsed = None if style is None else Style.parse(style)
    store = _cache(image, cache)
    key = tile_key(_state(image).identity, **place, style=parsed.key if parsed else "none",
                   encoding=codec.name, quality=quality if codec.lossy else 0)  # fmt: skip
    hit = store.get(key)
    if hit is not None:
        return np.load(io.BytesIO(hit)) if codec.name == "numpy" else hit
    data = stored() if stored is not None and parsed is None and codec.name == "jpeg" else None
    if data is not None:
        store.set(key, data)
        return data
    array = _render(image, read(), parsed, codec.name)
    if codec.name == "numpy":
        store.set(key, encoding_for("npy").encode(array, quality))  # type: ignore[arg-type]
        return array
    data = codec.encode(array, quality)
    store.set(key, data)  # type: ignore[arg-type]
    return data


def _cache(image: Image, url: str | TileCache | None) -> TileCache:
    if url is not None:
        return shared_cache(url)
    return image.tile_cache or get_default()


def tile(image: Image, level: int, x: int, y: int, *, grid: str = "dz", tile_size: int = 256,
         overlap: int = 0, style: Any = None, encoding: str = "jpeg", quality: int = 90,
         frame: int = 0, background: int = 255, cache: str | TileCache | None = None,
         passthrough: bool = True) -> bytes | np.ndarray:  # fmt: skip
    """Tile (``x``, ``y``) = (col, row) of grid ``level`` (DeepZoom numbering, or XYZ ``z``).

    DeepZoom tiles are cut exactly as openslide's DeepZoomGenerator and dzsave cut them (edge
    tiles smaller); XYZ tiles are always ``tile_size`` square, padded with ``background``.
    An unstyled JPEG tile that is exactly one stored JPEG tile is sent as the file stores it
    (as large_image does; ``quality`` then does not apply); ``passthrough=False`` re-encodes.
    """
    if frame != 0:
        raise OutOfRangeError(f"frame {frame} out of range: this image has one frame")
    found: list[tuple[Level, int, int, int, int]] = []

    def where() -> tuple[Level, int, int, int, int]:
        """(level, top, left, height, width): geometry is worked out only on a cache miss."""
        if not found:
            geometry = grid_for(grid, *image.dimensions, tile_size, overlap)
            left, top, width, height = geometry.tile_bounds(level, x, y)
            found.append((level_for(image, geometry.level_count - 1 - level), top, left, height, width))
        return found[0]

    def read() -> np.ndarray:
        pixels = _read_clamped(*where())
        height, width = pixels.shape[:2]
        if grid == "xyz" and (height, width) != (tile_size, tile_size):
            padded = np.full((tile_size, tile_size, pixels.shape[2]), background, dtype=pixels.dtype)
            padded[:height, :width] = pixels
            pixels = padded
        return pixels

    def stored() -> bytes | None:
        return _stored_tile(*where()) if passthrough else None

    place = {"kind": "tile", "grid": grid, "level": level, "x": x, "y": y, "frame": frame,
             "tile_size": tile_size, "overlap": overlap, "background": background,
             "passthrough": passthrough}  # fmt: skip
    return _produce(image, place, read, style=style, encoding=encoding, quality=quality, cache=cache,
                    stored=stored)  # fmt: skip


def _stored_tile(level: Level, top: int, left: int, height: int, width: int) -> bytes | None:
    """The file's JPEG bytes when the requested tile is exactly one whole stored tile."""
    th, tw = level.tile_shape
    if (height, width) != (th, tw) or top % th or left % tw:
        return None
    blobs = level.raw_tiles([(top // th, left // tw)])
    return blobs[0] if blobs else None


def _read_clamped(level: Level, y: int, x: int, height: int, width: int) -> np.ndarray:
    """Read a rectangle; a stored level a pixel smaller than the grid's repeats its edge."""
    h, w, _ = level.shape
    inner = level.rect(y, x, max(0, min(height, h - y)), max(0, min(width, w - x)))
    if inner.shape[:2] == (height, width):
        return inner
    return np.pad(inner, ((0, height - inner.shape[0]), (0, width - inner.shape[1]), (0, 0)), mode="edge")


def region(image: Image, x: int, y: int, width: int, height: int, *, level: int = 0,
           style: Any = None, encoding: str = "jpeg", quality: int = 90, fill: int = 255,
           cache: str | TileCache | None = None) -> bytes | np.ndarray:  # fmt: skip
    """``read_region((x, y), level, (width, height))`` (level-0 location), styled and encoded."""
    place = {"kind": "region", "level": level, "x": x, "y": y, "w": width, "h": height, "fill": fill}
    return _produce(image, place, lambda: image.read_region((x, y), level, (width, height), fill=fill),
                    style=style, encoding=encoding, quality=quality, cache=cache)  # fmt: skip


def thumbnail(image: Image, max_size: int | tuple[int, int] = 256, *, style: Any = None,
              encoding: str = "jpeg", quality: int = 90, cache: str | TileCache | None = None) -> bytes | np.ndarray:  # fmt: skip
    """The whole image no larger than ``max_size`` (width, height), styled and encoded."""
    size = (max_size, max_size) if isinstance(max_size, int) else tuple(max_size)
    place = {"kind": "thumbnail", "w": size[0], "h": size[1]}
    return _produce(image, place, lambda: image.get_thumbnail(size),
                    style=style, encoding=encoding, quality=quality, cache=cache)  # fmt: skip
