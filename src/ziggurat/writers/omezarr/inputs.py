"""What a pyramid can be built from, as one picklable N-D array: ``shape``, ``dtype``, ``chunks``, ``read(box)``.

Sources: anything :func:`ziggurat.open` opens (2-D slides as ``c y x``, volumes as ``[c|t] z y x``),
an :class:`~ziggurat.model.image.Image` or :class:`~ziggurat.model.volume.Volume` object, a bare Zarr v2/v3
array (local path or fsspec URL such as ``s3://bucket/em.zarr/s0``), and N5 datasets (through
tensorstore). An :class:`InputArray` pickles as "how to reopen me", so a Dask worker or a pool
process opens its own handles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import BackendUnavailableError, ImageNotFoundError, UnsupportedFormatError
from .shards import Stored

DEFAULT_AXES = {2: "yx", 3: "zyx", 4: "czyx", 5: "tczyx"}


class InputArray:
    """Level 0 of a pyramid's source in NGFF axis order (channels before space)."""

    def __init__(self, source: str | object, axes: str | None = None) -> None:
        self.source = source  # a path/URL, or an Image/Volume (both pickle as "reopen")
        self._axes = axes

    # opened lazily, once per process: never pickled
    @cached_property
    def _opened(self) -> tuple[_Box, str | None, tuple[float, ...] | None]:
        return _open(self.source)

    shape = property(lambda self: self._opened[0].shape)
    dtype = property(lambda self: np.dtype(self._opened[0].dtype))
    chunks = property(lambda self: self._opened[0].chunks)
    spacing = property(lambda self: self._opened[2])

    @property
    def axes(self) -> str:
        """Axis names of the array as read: ``yx``, ``cyx``, ``zyx``, ``czyx``, ..."""
        axes = self._axes or self._opened[1] or DEFAULT_AXES.get(len(self.shape))
        if axes is None or len(axes) != len(self.shape):
            raise UnsupportedFormatError(f"{self.source}: cannot name the axes of a {len(self.shape)}-D array")
        return axes

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        """The in-bounds box ``[(start, stop), ...]`` in this array's axis order."""
        data: np.ndarray = self._opened[0].read(box)
        return data

    def stored_as(self, codec: tuple[str, int]) -> Callable[[tuple[int, ...]], bytes | None] | None:
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
    """Uniform ``read(box)`` over the readers below."""

    def __init__(self, shape: Sequence[int], dtype: Any, chunks: Sequence[int], read: Callable[[Any], Any],
                 stored: Stored | None = None, stored_codec: tuple[str, int] | None = None) -> None:  # fmt: skip
        self.shape, self.dtype, self.chunks, self.read = tuple(shape), dtype, tuple(chunks), read
        self.stored, self.stored_codec = stored, stored_codec


def _open(source: object) -> tuple[_Box, str | None, tuple[float, ...] | None]:
    """(reader, axes or None, spacing or None) for any supported source."""
    from ...model.image import Image
    from ...model.volume import Volume

    if isinstance(source, np.ndarray):
        array = source
        return _Box(array.shape, array.dtype, array.shape,
                    lambda b: np.ascontiguousarray(array[tuple(slice(a, z) for a, z in b)])), None, None  # fmt: skip
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
        bare = _bare_array(source)
        if bare is not None:
            return bare, None, None
        import ziggurat

        if "://" not in source and not os.path.exists(source):
            raise ImageNotFoundError(f"{source}: no such file or directory")
        source = ziggurat.open(source)
    if isinstance(source, Volume):
        volume_level = source.levels[0]
        box = _Box(volume_level.shape, volume_level.dtype, volume_level.chunks,
                   lambda b: volume_level[tuple(slice(a, z) for a, z in b)])  # fmt: skip
        return box, "".join(source.axes), tuple(source.meta.spacing)
    if isinstance(source, Image):
        level = source.levels[0]
        h, w, c = level.shape
        ty, tx = level.tile_shape

        def read(b: Sequence[tuple[int, int]]) -> np.ndarray:
            (c0, c1), (y0, y1), (x0, x1) = b
            return np.moveaxis(level.read(y0, x0, y1 - y0, x1 - x0)[..., c0:c1], -1, 0)

        mpp = source.mpp
        spacing = (1.0, mpp[1] / 1000, mpp[0] / 1000) if mpp else None
        return _Box((c, h, w), level.dtype, (c, ty, tx), read), "cyx", spacing
    raise UnsupportedFormatError(f"cannot build a pyramid from {type(source).__name__}")


def _bare_array(path: str) -> _Box | None:
    """A Zarr v2/v3 array or N5 dataset at ``path`` (local or URL), or None if it is something else."""
    local = "://" not in path or path.startswith("file://")
    if local:
        root = Path(path.removeprefix("file://"))
        if (root / "attributes.json").is_file() and "dimensions" in _json(root / "attributes.json"):
            return _n5(str(root))
        meta = _json(root / "zarr.json") if (root / "zarr.json").is_file() else None
        if not ((root / ".zarray").is_file() or (meta and meta.get("node_type") == "array")):
            return None
        if meta is not None:
            from ...sources.zarrchunks import ChunkReader, UnsupportedLayout

            try:
                reader = ChunkReader(root)
                return _Box(reader.shape, reader.dtype, reader.chunk_shape, reader.read, _stored_chunks(root, meta),
                            _blosc_codec(meta))  # fmt: skip
            except UnsupportedLayout:
                pass
    import zarr

    try:
        array = zarr.open_array(path, mode="r")
    except Exception as exc:  # zarr/fsspec raise many types; a group or a missing path lands here
        if local:
            raise UnsupportedFormatError(f"{path}: not a readable Zarr array: {exc}") from exc
        return None
    return _Box(array.shape, np.dtype(array.dtype), array.chunks,
                lambda b: np.asarray(array[tuple(slice(a, z) for a, z in b)]))  # fmt: skip


def _stored_chunks(root: Path, meta: dict[str, Any]) -> Stored | None:
    """Reads one stored chunk file of an unsharded ``[bytes, blosc]`` array with 0 fill; None otherwise."""
    codecs = [c.get("name") for c in meta.get("codecs", [])]
    if codecs != ["bytes", "blosc"] or (meta.get("fill_value") or 0) != 0:
        return None
    encoding = meta.get("chunk_key_encoding", {"name": "default"})
    sep = encoding.get("configuration", {}).get("separator", "/" if encoding["name"] == "default" else ".")
    prefix = "c" + sep if encoding["name"] == "default" else ""

    def stored(index: tuple[int, ...]) -> bytes | None:
        try:
            data: bytes = (root / (prefix + sep.join(map(str, index)))).read_bytes()
            return data
        except FileNotFoundError:
            return None

    return stored


def _blosc_codec(meta: dict[str, Any]) -> tuple[str, int] | None:
    """(compressor, level) of an array's blosc codec, when it is the one compressor; else None."""
    blosc = [c.get("configuration", {}) for c in meta.get("codecs", []) if c.get("name") == "blosc"]
    return (blosc[0].get("cname"), blosc[0].get("clevel")) if len(blosc) == 1 else None


def _n5(path: str) -> _Box:
    try:
        import tensorstore as ts
    except ImportError as exc:
        raise BackendUnavailableError("N5 input needs tensorstore (pip install 'ziggurat[n5]')") from exc
    store = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": path}}, read=True).result()
    chunks = tuple(n or full for n, full in zip(store.chunk_layout.read_chunk.shape or store.shape, store.shape))
    return _Box(store.shape, np.dtype(store.dtype.numpy_dtype), chunks,
                lambda b: store[tuple(slice(a, z) for a, z in b)].read().result())  # fmt: skip


def _json(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
        return document
    except (OSError, ValueError):
        return {}
