"""Level readers behind a Volume: direct chunk reads, zarr-python (any store/codec), and in-memory arrays."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import CorruptImageError
from .zarrchunks import ChunkReader, UnsupportedLayout
from .omezarr import StoreInfo


class NumpyReader:
    """An array in memory (ingested DICOM series, TIFF stacks, user arrays)."""

    def __init__(self, array: np.ndarray, chunk_shape: Sequence[int] | None = None) -> None:
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.chunk_shape = tuple(chunk_shape or array.shape)

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        return self.array[tuple(slice(a, b) for a, b in box)].copy()


class ZarrReader:
    """Any array zarr-python opens (Zarr v2, other codecs, remote stores)."""

    def __init__(self, array) -> None:
        self._array = array
        self.shape = array.shape
        self.dtype = np.dtype(array.dtype)
        self.chunk_shape = tuple(array.chunks)

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        return np.asarray(self._array[tuple(slice(a, b) for a, b in box)])


def store_readers(path: str | os.PathLike, info: StoreInfo) -> list:
    """One reader per level: the direct path for local Zarr v3 arrays it supports, zarr-python otherwise."""
    readers: list = []
    for level_path in info.level_paths:
        full = Path(path) / level_path
        if info.zarr_format == 3:
            try:
                readers.append(ChunkReader(full))
                continue
            except UnsupportedLayout:
                pass
        import zarr  # deferred: only stores off the direct path need zarr-python

        try:
            readers.append(ZarrReader(zarr.open_array(str(full), mode="r")))
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptImageError(f"{full}: cannot open level array: {exc}") from exc
    return readers
