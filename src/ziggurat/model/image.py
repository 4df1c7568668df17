"""Image and Level: the model every feature reads pixels through.

An :class:`Image` is a pyramid of :class:`Level` objects, finest first. Each level is a lazy
(H, W, C) array: slicing it reads and decodes only the native tiles the slice touches.
``read_region`` follows openslide's conventions (level-0 location, size at the read level,
regions past the edge are padded); an Image pickles as "reopen this path", so it crosses
process boundaries (fork, spawn, Dask) without carrying file handles.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import OutOfRangeError
from .indexing import expand_key, span
from ..kernels.resize import resize_area
from ..sources.base import LevelReader, Source


class Level:
    """One pyramid level as a lazy (H, W, C) array; ``level[y0:y1, x0:x1]`` reads just that."""

    def __init__(self, reader: LevelReader, index: int, downsample: float) -> None:
        self._reader = reader
        self.index = index
        self.downsample = downsample

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self._reader.shape)  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._reader.dtype)

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Native (height, width) of the stored tiles or strips."""
        return tuple(self._reader.tile_shape)  # type: ignore[return-value]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as openslide orders it."""
        return self.shape[1], self.shape[0]

    ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, y: int, x: int, height: int, width: int) -> np.ndarray:
        """Pixels of an in-bounds rectangle, as an (height, width, C) array."""
        h, w, _ = self.shape
        if y < 0 or x < 0 or y + height > h or x + width > w or height < 0 or width < 0:
            raise OutOfRangeError(
                f"rectangle y={y} x={x} {height}x{width} outside level {self.index} ({h}x{w})"
            )
        return self._reader.read(y, x, height, width)

    def raw_tiles(self, positions: list[tuple[int, int]]) -> list[bytes] | None:
        """The stored tiles at (row, col) as standalone compressed files (for pass-through
        copies), or None when this level cannot give them."""
        fetch = getattr(self._reader, "raw_tiles", None)
        return None if fetch is None else fetch(positions)

    def __getitem__(self, key: Any) -> np.ndarray:
        ys, xs, cs = expand_key(key, 3)
        (y0, y1, ystep), ysq = span(ys, self.shape[0])
        (x0, x1, xstep), xsq = span(xs, self.shape[1])
        block = self._reader.read(y0, x0, y1 - y0, x1 - x0)
        block = block[::ystep, ::xstep, cs]
        if ysq or xsq:
            block = block[(0 if ysq else slice(None), 0 if xsq else slice(None))]
        return block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self[:, :]
        return full if dtype is None else full.astype(dtype)

    def __repr__(self) -> str:
        return f"<Level {self.index} shape={self.shape} dtype={self.dtype} tile={self.tile_shape}>"


class AssociatedImages(Mapping[str, np.ndarray]):
    """Label, macro and thumbnail images, decoded on first access."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._source.metadata.associated_names:
            raise KeyError(name)
        if name not in self._cache:
            self._cache[name] = self._source.read_associated(name)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source.metadata.associated_names)

    def __len__(self) -> int:
        return len(self._source.metadata.associated_names)


class Image:
    """A multi-resolution image: levels finest first, metadata, openslide-style reads."""

    def __init__(self, source: Source, path: str | None, backend: str) -> None:
        self._source = source
        self.path = path
        self.backend = backend
        base_h, base_w, _ = source.levels[0].shape
        self.levels: tuple[Level, ...] = tuple(
            Level(reader, i, _downsample(base_w, base_h, reader.shape))
            for i, reader in enumerate(source.levels)
        )
        self.associated_images = AssociatedImages(source)

    # -- metadata -------------------------------------------------------------------------
    @property
    def format(self) -> str:
        return self._source.metadata.format

    @property
    def mpp(self) -> tuple[float, float] | None:
        """Physical pixel size at level 0 as (x, y) micrometres per pixel, when the file says."""
        return self._source.metadata.mpp

    @property
    def objective_power(self) -> float | None:
        return self._source.metadata.objective_power

    @property
    def channel_names(self) -> list[str]:
        return self._source.metadata.channel_names

    @property
    def channel_colors(self) -> list[tuple[int, int, int] | None]:
        """Display colour per channel where the file gives one (OME-TIFF), else empty."""
        return self._source.metadata.channel_colors

    @property
    def dtype(self) -> np.dtype:
        return self.levels[0].dtype

    @property
    def channels(self) -> int:
        return self.levels[0].shape[2]

    axes = "yxc"

    @property
    def level_count(self) -> int:
        return len(self.levels)

    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 (width, height)."""
        return self.levels[0].size

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return tuple(level.size for level in self.levels)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return tuple(level.downsample for level in self.levels)

    @property
    def properties(self) -> dict[str, str]:
        """Vendor metadata plus openslide's standard ``openslide.*`` keys."""
        props = dict(self._source.metadata.properties)
        props["openslide.vendor"] = self.format
        props["openslide.level-count"] = str(self.level_count)
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

    # -- reads ----------------------------------------------------------------------------
    def _level(self, level: int) -> Level:
        if not isinstance(level, (int, np.integer)) or not 0 <= level < len(self.levels):
            raise OutOfRangeError(
                f"{self.path or 'image'}: level {level!r} out of range (0..{len(self.levels) - 1})"
            )
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
            return lvl.read(y, x, height, width)
        out = np.full((height, width, channels + (1 if rgba else 0)), fill, dtype=lvl.dtype)
        if rgba:
            out[..., channels] = 0
        if inside:
            out[y0 - y : y1 - y, x0 - x : x1 - x, :channels] = lvl.read(y0, x0, y1 - y0, x1 - x0)
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
        return resize_area(lvl[:, :], out_h, out_w)

    # -- tiles (ziggurat.tiles.service does the work) ----------------------------------------------
    #: the tile cache of this Image (``ziggurat.open(path, cache=URL)``); None: the process default
    tile_cache: Any = None

    def tile(self, level: int, x: int, y: int, **options: Any) -> bytes | np.ndarray:
        """An encoded DeepZoom/XYZ tile; see :func:`ziggurat.tiles.service.tile` for the options."""
        from ..tiles.service import tile

        return tile(self, level, x, y, **options)

    def region(self, x: int, y: int, width: int, height: int, **options: Any) -> bytes | np.ndarray:
        """An encoded region at level-0 (x, y); see :func:`ziggurat.tiles.service.region`."""
        from ..tiles.service import region

        return region(self, x, y, width, height, **options)

    def thumbnail(self, max_size: int | tuple[int, int] = 256, **options: Any) -> bytes | np.ndarray:
        """An encoded thumbnail; see :func:`ziggurat.tiles.service.thumbnail`."""
        from ..tiles.service import thumbnail

        return thumbnail(self, max_size, **options)

    def to_dask(self, level: int = 0, chunks: tuple[int, ...] | None = None) -> Any:
        """Level ``level`` as a lazy (H, W, C) ``dask.array``; see :func:`ziggurat.interop.dask.to_dask`."""
        from ..interop.dask import to_dask

        return to_dask(self, level, chunks)

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        reopen = getattr(self._source, "__reduce_image__", None)
        if reopen is not None:
            return reopen()
        return (_reopen, (self.path, self.backend))

    def __repr__(self) -> str:
        w, h = self.dimensions
        return (
            f"<Image {self.path or '(array)'} {self.format} {w}x{h} "
            f"levels={self.level_count} dtype={self.dtype} backend={self.backend}>"
        )


def _downsample(base_w: int, base_h: int, shape: tuple[int, int, int]) -> float:
    """openslide's rule: the mean of the width and height ratios to level 0."""
    return (base_w / shape[1] + base_h / shape[0]) / 2


def format_number(value: float) -> str:
    """Numbers in properties as openslide prints them: integers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _opaque(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def _reopen(path: str, backend: str) -> Image:
    from .. import open as open_image

    return open_image(path, backend=backend)
