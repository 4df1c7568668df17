"""In-memory images: NumPy arrays (one per level, finest first) with named axes, as a source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UnsupportedFormatError
from .base import ArrayReader, Metadata, NoAssociatedImages


class ArraySource(NoAssociatedImages):
    """Levels given as arrays with the axes of ``metadata.axes``; pickles with its data."""

    name = "array"

    def __init__(self, levels: Sequence[np.ndarray], metadata: Metadata, chunks: Sequence[int] | None = None) -> None:
        arrays = [np.asarray(a) for a in levels]
        if not arrays:
            raise UnsupportedFormatError("an array image needs at least one level")
        if any(a.ndim != len(metadata.axes) for a in arrays):
            shapes = [a.shape for a in arrays]
            raise UnsupportedFormatError(f"array levels {shapes} do not match axes {metadata.axes!r}")
        self.arrays = arrays
        self.metadata = metadata
        self.levels = [ArrayReader(a, chunks) for a in arrays]

    def close(self) -> None:
        pass

    def __reduce__(self) -> tuple[Any, ...]:
        return (ArraySource, (self.arrays, self.metadata, self.levels[0].chunks))
