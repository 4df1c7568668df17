"""In-memory images: wrap NumPy arrays (one per level) so tests and users get the full Image API."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import UnsupportedFormatError
from .base import SourceMetadata


class ArrayLevel:
    """An (H, W, C) array in memory; tile shape is nominal (used by tile grids)."""

    def __init__(self, array: np.ndarray, tile_shape: tuple[int, int]) -> None:
        self._array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.tile_shape = (min(tile_shape[0], array.shape[0]), min(tile_shape[1], array.shape[1]))

    def read(self, y: int, x: int, height: int, width: int) -> np.ndarray:
        return self._array[y : y + height, x : x + width].copy()


class ArraySource:
    """Levels given as arrays, finest first; pickles with its data."""

    name = "array"

    def __init__(
        self,
        levels: Sequence[np.ndarray],
        *,
        mpp: tuple[float, float] | None = None,
        tile_shape: tuple[int, int] = (256, 256),
        channel_names: Sequence[str] = (),
    ) -> None:
        arrays = [np.asarray(a) for a in levels]
        if not arrays:
            raise UnsupportedFormatError("an array image needs at least one level")
        arrays = [a[..., None] if a.ndim == 2 else a for a in arrays]
        if any(a.ndim != 3 for a in arrays):
            raise UnsupportedFormatError("array levels must be (H, W) or (H, W, C)")
        self._arrays = arrays
        self._options = {"mpp": mpp, "tile_shape": tile_shape, "channel_names": list(channel_names)}
        self.levels = [ArrayLevel(a, tile_shape) for a in arrays]
        self.metadata = SourceMetadata(format="array", mpp=mpp, channel_names=list(channel_names))

    def read_associated(self, name: str) -> np.ndarray:
        raise KeyError(name)

    def close(self) -> None:
        pass

    def __reduce_image__(self) -> tuple:
        return (_rebuild, (self._arrays, self._options))


def _rebuild(arrays: list[np.ndarray], options: dict):
    from ..model.image import Image

    return Image(ArraySource(arrays, **options), None, "array")
