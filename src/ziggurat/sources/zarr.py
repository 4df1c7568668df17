"""Bare Zarr arrays (v3 and v2, no OME metadata) — EM volumes, label arrays, one level each.

Local Zarr v3 arrays in the layouts ziggurat writes are read straight from their files by
:class:`~ziggurat.sources.zarrchunks.ChunkReader`; anything else (Zarr v2, other codecs) goes
through zarr-python. Axes are named by dimension count (``yx``, ``zyx``, ``czyx``, ``tczyx``) unless
the array records ``dimension_names``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptImageError, UnsupportedFormatError
from ..io.remotepath import RemotePath, as_path, is_dir
from .base import Box, LevelReader, Metadata, NoAssociatedImages
from .guards import chunk_decoded_size
from .zarrchunks import ChunkReader, UnsupportedLayout

DEFAULT_AXES = {2: "yx", 3: "zyx", 4: "czyx", 5: "tczyx"}


class ZarrPythonReader:
    """Any array zarr-python opens (Zarr v2, codecs off the direct path). The chunks of a local v2
    array are checked before zarr-python decodes them: a zstd or blosc header claiming more than
    the chunk holds is refused (the codec would allocate what it claims)."""

    def __init__(self, array: Any, local_v2: Path | None = None) -> None:
        self._array = array
        self.shape: tuple[int, ...] = tuple(array.shape)
        self.dtype: np.dtype[Any] = np.dtype(array.dtype)
        self.chunks: tuple[int, ...] = tuple(array.chunks)
        meta = load_json(local_v2 / ".zarray") if local_v2 is not None else None
        compressor = (meta or {}).get("compressor")
        self._codec = str(compressor.get("id")) if isinstance(compressor, dict) else ""
        self._v2 = local_v2 if meta and not meta.get("filters") and self._codec in ("zstd", "blosc") else None
        self._separator = str((meta or {}).get("dimension_separator") or ".")

    def read(self, box: Box) -> np.ndarray:
        if self._v2 is not None:
            self._check_chunks(box)
        return np.asarray(self._array[tuple(slice(a, b) for a, b in box)])

    def _check_chunks(self, box: Box) -> None:
        assert self._v2 is not None
        nbytes = math.prod(self.chunks) * self.dtype.itemsize
        spans = [range(a // c, (b - 1) // c + 1) for (a, b), c in zip(box, self.chunks) if b > a]
        for key in itertools.product(*spans) if len(spans) == len(box) else ():
            path = self._v2 / self._separator.join(map(str, key))
            try:
                with open(path, "rb") as fh:
                    claimed = chunk_decoded_size(self._codec, fh.read(32))
            except FileNotFoundError:  # a missing chunk is its fill value
                continue
            if claimed is not None and claimed > nbytes:
                raise CorruptImageError(f"{path}: its header claims {claimed:,} bytes, a chunk holds {nbytes:,}")


def open_array(path: str | os.PathLike[str] | RemotePath, zarr_format: int) -> LevelReader:
    """A reader of one local Zarr array: the direct chunk path when it applies, zarr-python otherwise."""
    if isinstance(path, RemotePath):  # object storage: the direct chunk path, else zarr-python
        if zarr_format == 3:
            from .remotechunks import RemoteChunkReader

            try:
                return RemoteChunkReader(path)
            except UnsupportedLayout:
                pass
        return ZarrPythonReader(_remote_array(path, zarr_format))
    if zarr_format == 3:
        try:
            return ChunkReader.open(path)
        except UnsupportedLayout:
            pass
    import zarr  # deferred: importing zarr-python costs ~0.15 s; only arrays off the direct path need it

    try:
        return ZarrPythonReader(zarr.open_array(os.fspath(path), mode="r"), Path(path) if zarr_format == 2 else None)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptImageError(f"{path}: cannot open Zarr array: {exc}") from exc


def _remote_array(path: RemotePath, zarr_format: int) -> Any:
    import zarr

    from ..io.remotezarr import zarr_store

    try:
        return zarr.open_array(zarr_store(path.location), path=path.location.key, mode="r", zarr_format=zarr_format)  # type: ignore[arg-type]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptImageError(f"{path}: cannot open Zarr array: {exc}") from exc


#: metadata documents are small; a larger local one is not read (it would cost its size in memory)
MAX_JSON_BYTES = 16 << 20


def load_json(path: Path | RemotePath) -> dict[str, Any] | None:
    """A JSON document, or None when the file is missing, is not a JSON object, is larger than
    ``MAX_JSON_BYTES`` or nests deeper than the parser can follow."""
    try:
        if isinstance(path, Path) and path.stat().st_size > MAX_JSON_BYTES:
            return None
        document = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def array_format(path: Path | RemotePath) -> int | None:
    """3 or 2 when ``path`` is a Zarr v3 / v2 array, else None."""
    meta = load_json(path / "zarr.json")
    if meta is not None:
        return 3 if meta.get("node_type") == "array" else None
    return 2 if (path / ".zarray").is_file() else None


class ZarrArraySource(NoAssociatedImages):
    """One bare Zarr array as a single-level image."""

    name = "zarr"
    rank = 70  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        return 70 if is_dir(path) and array_format(as_path(path)) is not None else 0

    def __init__(self, path: str, *, axes: str | None = None) -> None:
        root = as_path(path)
        zarr_format = array_format(root)
        if zarr_format is None:
            raise UnsupportedFormatError(f"{path}: not a Zarr array (no array zarr.json or .zarray)")
        reader = open_array(root, zarr_format)
        names = (load_json(root / "zarr.json") or {}).get("dimension_names") or []
        recorded = "".join(str(n) for n in names) if all(isinstance(n, str) and len(n) == 1 for n in names) else ""
        axes = axes or recorded or DEFAULT_AXES.get(len(reader.shape))
        if axes is None or len(axes) != len(reader.shape):
            raise UnsupportedFormatError(f"{path}: cannot name the axes of a {len(reader.shape)}-D array")
        self.levels = [reader]
        self.metadata = Metadata(f"zarr v{zarr_format}", axes, None, tuple(None for _ in axes))

    def close(self) -> None:
        pass
