"""N5 datasets (the format of many EM pipelines: BigDataViewer, Saalfeld lab tools) through tensorstore."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, CorruptImageError
from .base import Box, Metadata, NoAssociatedImages
from .zarr import DEFAULT_AXES, load_json


class TensorstoreReader:
    """Box reads of one tensorstore-opened dataset."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.shape: tuple[int, ...] = tuple(int(n) for n in store.shape)
        self.dtype: np.dtype[Any] = np.dtype(store.dtype.numpy_dtype)
        shape = store.chunk_layout.read_chunk.shape or store.shape  # unchunked dimensions: the whole extent
        self.chunks: tuple[int, ...] = tuple(int(n or full) for n, full in zip(shape, store.shape))

    def read(self, box: Box) -> np.ndarray:
        return np.asarray(self._store[tuple(slice(a, b) for a, b in box)].read().result())


class N5Source(NoAssociatedImages):
    """One N5 dataset (a folder whose attributes.json has ``dimensions``) as a single-level image."""

    name = "n5"
    rank = 70  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        if not os.path.isdir(path):
            return 0
        attributes = load_json(Path(path) / "attributes.json")
        return 70 if attributes is not None and "dimensions" in attributes else 0

    def __init__(self, path: str, *, axes: str | None = None) -> None:
        try:
            import tensorstore as ts
        except ImportError as exc:
            raise BackendUnavailableError("N5 input needs tensorstore (pip install 'ziggurat[n5]')") from exc
        spec = {"driver": "n5", "kvstore": {"driver": "file", "path": os.fspath(path)}}
        try:
            reader = TensorstoreReader(ts.open(spec, read=True).result())
        except ValueError as exc:
            raise CorruptImageError(f"{path}: not a readable N5 dataset: {exc}") from exc
        axes = axes or DEFAULT_AXES.get(len(reader.shape))
        if axes is None or len(axes) != len(reader.shape):
            raise CorruptImageError(f"{path}: cannot name the axes of a {len(reader.shape)}-D dataset")
        self.levels = [reader]
        self.metadata = Metadata("n5", axes, None, tuple(None for _ in axes))

    def close(self) -> None:
        pass
