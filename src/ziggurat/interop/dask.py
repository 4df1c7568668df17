"""``to_dask``: one level of an Image as a lazy ``dask.array``, chunk-aligned with the file.

Dask chunks are whole multiples of the stored tiles/chunks (grown in powers of two to about
``CHUNK_BYTES``), so every task decodes each stored tile once. The graph holds the Image
itself, which pickles as "reopen this path": each worker process opens its own file handles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import OutOfRangeError
from ..model.image import Image

CHUNK_BYTES = 32 * 2**20


class LevelArray:
    """The minimal array protocol ``dask.array.from_array`` needs, over one level; picklable."""

    def __init__(self, owner: Image, level: int) -> None:
        if not 0 <= level < len(owner.levels):
            raise OutOfRangeError(f"level {level} out of range (0..{len(owner.levels) - 1})")
        self.owner, self.level = owner, level
        lvl = owner.levels[level]
        self.shape, self.dtype, self.ndim = tuple(lvl.shape), np.dtype(lvl.dtype), len(lvl.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.owner.levels[self.level][key]

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (type(self.owner).__name__, self.owner.path or id(self.owner), self.level)


def grow(native: Sequence[int], shape: Sequence[int], itemsize: int, spatial: Sequence[int],
         target: int = CHUNK_BYTES) -> tuple[int, ...]:  # fmt: skip
    """Double the ``spatial`` axes of ``native`` in turn while the chunk stays under ``target`` bytes."""
    chunks = [min(c, n) for c, n in zip(native, shape)]
    grew = True
    while grew:
        grew = False
        for axis in spatial:
            bigger = chunks.copy()
            bigger[axis] = min(chunks[axis] * 2, shape[axis])
            if bigger[axis] > chunks[axis] and math.prod(bigger) * itemsize <= target:
                chunks, grew = bigger, True
    return tuple(chunks)


def to_dask(image: Image, level: int = 0, chunks: Sequence[int] | None = None) -> Any:
    """Level ``level`` of an Image as a dask array in the image's axis order."""
    import dask.array as da

    array = LevelArray(image, level)
    if chunks is None:
        spatial = [i for i, a in enumerate(image.axes) if a in "zyx"]
        chunks = grow(image.levels[level].chunks, array.shape, array.dtype.itemsize, spatial)
    return da.from_array(  # type: ignore[no-untyped-call]
        array,
        chunks=tuple(chunks),
        asarray=False,
        lock=False,
        fancy=False,
        meta=np.empty((0,) * array.ndim, array.dtype),
    )
