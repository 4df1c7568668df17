"""The one tile path: DeepZoom / XYZ tiles, regions and thumbnails — key, cache, read, style, encode, store.

A :class:`TileService` serves every caller alike — library code, ``ziggurat tile`` and the server —
so the same tile has the same cache key everywhere: a hash of the source identity (real path +
size + mtime), the tile's place (grid, level, column, row, tile size, overlap, background,
pass-through), the style and the encoding. On a miss it reads pixels from the power-of-two level
for the tile's downsample (stored, or synthesized from the next finer one and kept in the service's
decoded-tile LRU, see :mod:`ziggurat.tiles.levels`), renders them with the style, encodes and
stores. It remembers per Image (weakly, so exactly as long as the Image lives) its power-of-two
levels, its resolved styles and its identity.

A request is split in two for callers on an event loop: ``job = service.tile_job(...)`` validates
and computes the key (no I/O beyond one ``stat`` the first time an Image is seen);
``service.cache.get_local(job.key)`` asks the in-process tier; ``service.run(job, local_checked=True)``
does the rest (shared tier, read, render, store) and belongs in a threadpool.
"""

from __future__ import annotations

import io
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..cache import TileCache, get_default, open_cache
from ..cache.keys import tile_key
from ..cache.lru import LRU, decoded_tiles
from ..errors import OutOfRangeError
from ..model.image import Image
from ..model.level import Level
from ..render.encode import Encoding, check_quality, encoding_for
from ..render.style import Renderer, Style
from .grid import DeepZoomGrid, TileGrid, XYZGrid
from .levels import power_levels

__all__ = ["GRIDS", "RAW_ENCODINGS", "Job", "TileService", "grid_for"]

GRIDS = ("dz", "xyz")
RAW_ENCODINGS = ("numpy", "npy", "tiff")
Pixels = bytes | np.ndarray
Place = tuple[Level, int, int, int, int]  # a tile's power-of-two level and (top, left, height, width) in it


@dataclass
class _State:
    """What the service remembers about one Image."""

    identity: str
    levels: list[Level] = field(default_factory=list)
    renderers: dict[str, Renderer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Job:
    """One request, keyed and validated; :meth:`TileService.run` produces its bytes (or array)."""

    key: str
    codec: Encoding
    quality: int
    style: Style | None
    image: Image
    read: Callable[[], np.ndarray]
    stored: Callable[[], bytes | None] | None = None


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


class TileService:
    """Tiles, regions and thumbnails of Images through ``cache``, reading through ``decoded``.

    ``cache``: a URL (``memory://?max=1GB``, ``memcached://…``, ``redis://…``, ``none://``; a new
    client per service), a :class:`~ziggurat.cache.TileCache` (e.g. a ``TieredCache``), or None for
    the process default (:func:`ziggurat.cache.get_default`: ``ZIGGURAT_CACHE``, else memory).
    ``decoded``: the LRU that synthesized levels keep their blocks in (default: the process's
    :func:`~ziggurat.cache.decoded_tiles`). Thread-safe; make one and share it.
    """

    def __init__(self, cache: str | TileCache | None = None, *, decoded: LRU[Hashable, Any] | None = None) -> None:
        self.cache: TileCache = get_default() if cache is None else open_cache(cache)
        self._decoded = decoded
        self._states: weakref.WeakKeyDictionary[Image, _State] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        #: requests that missed the cache and were read and encoded (pass-through copies included)
        self.renders = 0

    @property
    def decoded(self) -> LRU[Hashable, Any]:
        return self._decoded if self._decoded is not None else decoded_tiles()

    def __repr__(self) -> str:
        return f"<TileService cache={self.cache!r} renders={self.renders}>"

    # -- per-Image state ----------------------------------------------------------------------
    def _state(self, image: Image) -> _State:
        state = self._states.get(image)
        if state is None:
            with self._lock:
                state = self._states.get(image)
                if state is None:
                    state = self._states.setdefault(image, _State(image.identity))
        return state

    def identity(self, image: Image) -> str:
        return self._state(image).identity

    def level_for(self, image: Image, exponent: int) -> Level:
        """The level with downsample ``2**exponent``, stored or synthesized (made once per Image)."""
        state = self._state(image)
        if not state.levels:
            with state.lock:
                if not state.levels:  # every halving down to 1 x 1 pixel, built once (they are lazy)
                    count = (max(image.dimensions) - 1).bit_length() + 1
                    state.levels = power_levels(image, count, self.decoded)
        if not 0 <= exponent < len(state.levels):
            raise OutOfRangeError(f"no level with downsample 2**{exponent} (0..{len(state.levels) - 1})")
        return state.levels[exponent]

    def renderer_for(self, image: Image, style: Style) -> Renderer:
        """``style`` resolved against ``image`` once (auto windows measure the image)."""
        state = self._state(image)
        renderer = state.renderers.get(style.key)
        if renderer is None:
            renderer = state.renderers.setdefault(style.key, style.resolve(image))
        return renderer

    # -- the one path ---------------------------------------------------------------------------
    def job(self, image: Image, place: dict[str, object], read: Callable[[], np.ndarray], *, style: Any,
            encoding: str, quality: int, stored: Callable[[], bytes | None] | None = None) -> Job:  # fmt: skip
        """Validate the encoding, quality and style and compute the cache key of one request."""
        codec = encoding_for(encoding)
        quality = check_quality(quality)
        parsed = None if style is None else Style.parse(style)
        key = tile_key(self._state(image).identity, **place, style=parsed.key if parsed else "none",
                       encoding=codec.name, quality=quality if codec.lossy else 0)  # fmt: skip
        return Job(key, codec, quality, parsed, image, read, stored)

    def run(self, job: Job, *, local_checked: bool = False) -> Pixels:
        """Cache lookup (the rest of it, if the caller asked ``cache.get_local`` already), then
        read, render, encode, store. ``numpy`` returns the array (cached as npy)."""
        hit = self.cache.get_remote(job.key) if local_checked else self.cache.get(job.key)
        if hit is not None:
            return np.load(io.BytesIO(hit)) if job.codec.name == "numpy" else hit
        self.renders += 1
        if job.stored is not None and job.style is None and job.codec.name == "jpeg":
            data = job.stored()
            if data is not None:
                self.cache.set(job.key, data)
                return data
        array = self._render(job.image, job.read(), job.style, job.codec.name)
        if job.codec.name == "numpy":
            self.cache.set(job.key, _as_bytes(encoding_for("npy").encode(array, job.quality)))
            return array
        encoded = _as_bytes(job.codec.encode(array, job.quality))
        self.cache.set(job.key, encoded)
        return encoded

    def _render(self, image: Image, pixels: np.ndarray, style: Style | None, encoding: str) -> np.ndarray:
        """Apply ``style``; without one, 8-bit grey/RGB passes through and raw encodings keep data."""
        if style is None:
            if encoding in RAW_ENCODINGS:
                return pixels
            if pixels.dtype == np.uint8 and pixels.shape[2] in (1, 3, 4) and not image.metadata.fluorescence:
                return pixels[:, :, :3] if pixels.shape[2] == 4 else pixels
            style = Style()
        return self.renderer_for(image, style)(pixels)

    # -- requests -------------------------------------------------------------------------------
    def tile_job(self, image: Image, level: int, col: int, row: int, *, grid: str = "dz", tile_size: int = 256,
                 overlap: int = 0, style: Any = None, encoding: str = "jpeg", quality: int = 90, frame: int = 0,
                 background: int = 255, passthrough: bool = True) -> Job:  # fmt: skip
        """The :class:`Job` of :meth:`tile` (geometry is worked out only on a cache miss)."""
        if frame != 0:
            raise OutOfRangeError(f"frame {frame} out of range: this image has one frame")
        found: list[Place] = []

        def where() -> Place:
            if not found:
                found.append(self._place(image, grid, level, col, row, tile_size, overlap))
            return found[0]

        def read() -> np.ndarray:
            return _read_tile(where(), tile_size if grid == "xyz" else 0, background)

        def stored() -> bytes | None:
            return _stored_tile(*where()) if passthrough else None

        place = {"kind": "tile", "grid": grid, "level": level, "x": col, "y": row, "frame": frame,
                 "tile_size": tile_size, "overlap": overlap, "background": background,
                 "passthrough": passthrough}  # fmt: skip
        return self.job(image, place, read, style=style, encoding=encoding, quality=quality, stored=stored)

    def tile_pixels(self, image: Image, level: int, col: int, row: int, *, grid: str = "dz", tile_size: int = 256,
                    overlap: int = 0, background: int = 255) -> np.ndarray:  # fmt: skip
        """The unstyled pixels of a :meth:`tile`, read now and not cached (the openslide drop-in's
        ``DeepZoomGenerator.get_tile`` and every cache miss read them this way)."""
        place = self._place(image, grid, level, col, row, tile_size, overlap)
        return _read_tile(place, tile_size if grid == "xyz" else 0, background)

    def _place(self, image: Image, grid: str, level: int, col: int, row: int, tile_size: int, overlap: int) -> Place:
        """Where a tile lies: its power-of-two level and (top, left, height, width) in it."""
        geometry = grid_for(grid, *image.dimensions, tile_size, overlap)
        left, top, width, height = geometry.tile_bounds(level, col, row)
        return self.level_for(image, geometry.level_count - 1 - level), top, left, height, width

    def tile(self, image: Image, level: int, col: int, row: int, **options: Any) -> Pixels:
        """Tile (``col``, ``row``) of grid ``level`` (DeepZoom numbering, or XYZ ``z``).

        Options: ``grid="dz"|"xyz"``, ``tile_size=256``, ``overlap=0``, ``style=None``,
        ``encoding="jpeg"``, ``quality=90``, ``frame=0``, ``background=255``, ``passthrough=True``.
        DeepZoom tiles are cut exactly as openslide's DeepZoomGenerator and dzsave cut them (edge
        tiles smaller); XYZ tiles are always ``tile_size`` square, padded with ``background``.
        An unstyled JPEG tile that is exactly one stored JPEG tile is sent as the file stores it
        (as large_image does; ``quality`` then does not apply); ``passthrough=False`` re-encodes.
        """
        return self.run(self.tile_job(image, level, col, row, **options))

    def region_job(self, image: Image, x: int, y: int, width: int, height: int, *, level: int = 0,
                   style: Any = None, encoding: str = "jpeg", quality: int = 90, fill: int = 255) -> Job:  # fmt: skip
        """The :class:`Job` of :meth:`region`."""
        place = {"kind": "region", "level": level, "x": x, "y": y, "w": width, "h": height, "fill": fill}
        return self.job(image, place, lambda: image.read_region((x, y), level, (width, height), fill=fill),
                        style=style, encoding=encoding, quality=quality)  # fmt: skip

    def region(self, image: Image, x: int, y: int, width: int, height: int, **options: Any) -> Pixels:
        """``read_region((x, y), level, (width, height))`` (level-0 location), styled and encoded.

        Options: ``level=0``, ``style=None``, ``encoding="jpeg"``, ``quality=90``, ``fill=255``.
        """
        return self.run(self.region_job(image, x, y, width, height, **options))

    def thumbnail_job(self, image: Image, max_size: int | tuple[int, int] = 256, *, style: Any = None,
                      encoding: str = "jpeg", quality: int = 90) -> Job:  # fmt: skip
        """The :class:`Job` of :meth:`thumbnail`."""
        size = (max_size, max_size) if isinstance(max_size, int) else (int(max_size[0]), int(max_size[1]))
        place = {"kind": "thumbnail", "w": size[0], "h": size[1]}
        return self.job(image, place, lambda: image.get_thumbnail(size), style=style, encoding=encoding,
                        quality=quality)  # fmt: skip

    def thumbnail(self, image: Image, max_size: int | tuple[int, int] = 256, **options: Any) -> Pixels:
        """The whole image no larger than ``max_size`` (width, height), styled and encoded.

        Options: ``style=None``, ``encoding="jpeg"``, ``quality=90``.
        """
        return self.run(self.thumbnail_job(image, max_size, **options))

    def associated_job(self, image: Image, name: str, *, encoding: str = "png", quality: int = 90) -> Job:
        """The :class:`Job` of an associated image (label, macro) of ``image``, encoded."""
        return self.job(image, {"kind": "associated", "name": name}, lambda: image.associated_images[name],
                        style=None, encoding=encoding, quality=quality)  # fmt: skip


def _as_bytes(data: Pixels) -> bytes:
    """An encoder's output where bytes are certain (every encoding but ``numpy``)."""
    assert isinstance(data, bytes)
    return data


def _stored_tile(level: Level, top: int, left: int, height: int, width: int) -> bytes | None:
    """The file's JPEG bytes when the requested tile is exactly one whole stored tile."""
    th, tw = level.tile_shape
    if (height, width) != (th, tw) or top % th or left % tw:
        return None
    blobs = level.raw_tiles([(top // th, left // tw)])
    return blobs[0] if blobs else None


def _read_tile(place: Place, padded: int, background: int) -> np.ndarray:
    """A tile's pixels; ``padded`` > 0 pads them to that square with ``background`` (XYZ tiles)."""
    pixels = _read_clamped(*place)
    height, width = pixels.shape[:2]
    if padded and (height, width) != (padded, padded):
        square = np.full((padded, padded, pixels.shape[2]), background, dtype=pixels.dtype)
        square[:height, :width] = pixels
        pixels = square
    return pixels


def _read_clamped(level: Level, y: int, x: int, height: int, width: int) -> np.ndarray:
    """Read a rectangle; a stored level a pixel smaller than the grid's repeats its edge."""
    h, w, _ = level.shape
    inner = level.rect(y, x, max(0, min(height, h - y)), max(0, min(width, w - x)))
    if inner.shape[:2] == (height, width):
        return inner
    return np.pad(inner, ((0, height - inner.shape[0]), (0, width - inner.shape[1]), (0, 0)), mode="edge")
