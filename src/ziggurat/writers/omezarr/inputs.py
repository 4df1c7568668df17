"""What a pyramid can be built from, as one picklable N-D array: ``shape``, ``dtype``, ``chunks``, ``read(box)``.

Sources: anything the registry opens (:func:`ziggurat.open`: slides as ``c y x``, volumes as
``[t][c] z y x``, bare Zarr v2/v3 arrays, N5 datasets, OME-Zarr stores), an
:class:`~ziggurat.model.image.Image`, a NumPy array, and a Zarr array at another fsspec URL
(``memory://``, ``gs://``; ``s3://`` and ``http(s)://`` open through the registry). An
:class:`InputArray` pickles as "how to reopen me", so a Dask worker or a pool process opens its
own handles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ...errors import UnsupportedFormatError
from ...io.locations import REMOTE_SCHEMES, local_path, scheme_of
from ...model.image import Image, open_image
from ...sources.base import SLIDE_AXES, Metadata, SupportsStoredChunks
from ...sources.zarr import DEFAULT_AXES
from .shards import Stored


class InputArray:
    """Level 0 of a pyramid's source in NGFF axis order (channels before space)."""

    def __init__(self, source: str | os.PathLike[str] | Image | np.ndarray, axes: str | None = None) -> None:
        self.source = source  # a path/URL, an Image (pickles as "reopen") or an array
        self._axes = axes

    # opened lazily, once per process: never pickled
    @cached_property
    def _opened(self) -> tuple[_Box, Metadata | None]:
        return _open(self.source)

    shape = property(lambda self: self._opened[0].shape)
    dtype = property(lambda self: np.dtype(self._opened[0].dtype))
    chunks = property(lambda self: self._opened[0].chunks)

    @property
    def spacing(self) -> tuple[float, ...] | None:
        facts = self._opened[1]
        return None if facts is None else facts.scale

    @property
    def metadata(self) -> Metadata:
        """What the source says in this array's axis order: steps, units (None where unknown), channels."""
        facts = self._opened[1]
        if facts is None or facts.axes != self.axes:
            return Metadata("ome-zarr", self.axes, (1.0,) * len(self.axes), (None,) * len(self.axes))
        return facts

    @property
    def axes(self) -> str:
        """Axis names of the array as read: ``yx``, ``cyx``, ``zyx``, ``czyx``, ..."""
        facts = self._opened[1]
        axes = self._axes or (facts.axes if facts is not None else None) or DEFAULT_AXES.get(len(self.shape))
        if axes is None or len(axes) != len(self.shape):
            raise UnsupportedFormatError(f"{self.source}: cannot name the axes of a {len(self.shape)}-D array")
        return axes

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        """The in-bounds box ``[(start, stop), ...]`` in this array's axis order."""
        data: np.ndarray = self._opened[0].read(tuple(box))
        return data

    def stored_as(self, codec: tuple[str, int]) -> Stored | None:
        """``stored(chunk_index)``: a chunk's blosc bytes as stored (None: absent), when the source
        is an unsharded Zarr v3 array of blosc ``codec`` (compressor, level) whose chunks can be
        copied through unchanged; else None."""
        box = self._opened[0]
        return box.stored if box.stored is not None and box.stored_codec == codec else None

    def __getstate__(self) -> dict[str, Any]:
        return {"source": self.source, "_axes": self._axes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _Box:
    """Uniform ``read(box)`` over the inputs below."""

    def __init__(self, shape: Sequence[int], dtype: Any, chunks: Sequence[int], read: Callable[[Any], Any],
                 stored: Stored | None = None, stored_codec: tuple[str, int] | None = None) -> None:  # fmt: skip
        self.shape, self.dtype, self.chunks, self.read = tuple(shape), dtype, tuple(chunks), read
        self.stored, self.stored_codec = stored, stored_codec


def _open(source: object) -> tuple[_Box, Metadata | None]:
    """(reader, what the source says — axes, steps, units, channels — or None) for any supported source."""
    if isinstance(source, np.ndarray):
        array = source
        return _Box(array.shape, array.dtype, array.shape,
                    lambda b: np.ascontiguousarray(array[tuple(slice(a, z) for a, z in b)])), None  # fmt: skip
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if scheme_of(path) not in (None, "file", *REMOTE_SCHEMES):  # memory://, gs://, ...: fsspec's Zarr
            return _remote_array(path), None
        source = open_image(local_path(path))  # s3:// and http(s):// open through the registry
    if not isinstance(source, Image):
        raise UnsupportedFormatError(f"cannot build a pyramid from {type(source).__name__}")
    level = source.levels[0]
    if source.axes == SLIDE_AXES:  # NGFF puts channels first
        h, w, c = level.shape
        ty, tx = level.tile_shape

        def read(b: Sequence[tuple[int, int]]) -> np.ndarray:
            (c0, c1), (y0, y1), (x0, x1) = b
            return np.moveaxis(level.read(((y0, y1), (x0, x1), (c0, c1))), -1, 0)

        mpp = source.mpp
        scale, unit = ((1.0, mpp[1], mpp[0]), "micrometer") if mpp else ((1.0, 1.0, 1.0), None)
        facts = Metadata(source.format, "cyx", scale, (None, unit, unit), channel_names=list(source.channel_names),
                         channel_colors=list(source.channel_colors))  # fmt: skip
        return _Box((c, h, w), level.dtype, (c, ty, tx), read), facts
    reader = level.reader
    if isinstance(reader, SupportsStoredChunks):
        box = _Box(level.shape, level.dtype, level.chunks, level.read, reader.stored_chunk, reader.stored_codec)
    else:
        box = _Box(level.shape, level.dtype, level.chunks, level.read)
    meta = source.metadata
    units = meta.units if len(meta.units) == len(meta.axes) else (None,) * len(meta.axes)
    steps = meta.scale or (1.0,) * len(meta.axes)
    return box, Metadata(meta.format, meta.axes, steps, units, meta.affine, channel_names=list(meta.channel_names),
                         channel_colors=list(meta.channel_colors))  # fmt: skip


def _remote_array(url: str) -> _Box:
    """A Zarr array at an fsspec URL (``s3://bucket/em.zarr/s0``), through zarr-python."""
    import zarr

    try:
        array = zarr.open_array(url, mode="r")
    except Exception as exc:  # zarr/fsspec raise many types; a group or a missing path lands here
        raise UnsupportedFormatError(f"{url}: not a readable Zarr array: {exc}") from exc
    return _Box(array.shape, np.dtype(array.dtype), array.chunks,
                lambda b: np.asarray(array[tuple(slice(a, z) for a, z in b)]))  # fmt: skip
