"""Level: one resolution of an Image, a lazy N-D array with named axes.

``level.read(box)`` reads an in-bounds box (``((start, stop), ...)`` per axis) and ``level[...]``
takes NumPy basic indexing (ints, positive-step slices, ``...``); both decode only the stored tiles
or chunks they touch. A ``yxc`` level also answers the slide questions: ``tile_shape``, ``size``
(width, height, as openslide orders it) and ``downsample`` (openslide's rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import AxesError, OutOfRangeError
from ..sources.base import SLIDE_AXES, Box, LevelReader, SupportsRawTiles, SupportsReadInto
from ..sources.guards import check_allocation, typed_errors
from .indexing import expand_key, span


class Level:
    """One pyramid level; ``downsample`` is level-0 pixels per pixel of this level in y and x."""

    def __init__(
        self, reader: LevelReader, index: int, axes: str, downsample: float = 1.0, name: str | None = None
    ) -> None:
        if len(reader.shape) != len(axes):
            raise AxesError(f"level {index} has shape {reader.shape} but the image's axes are {axes!r}")
        self.reader = reader
        self.index = index
        self.axes = axes
        self.downsample = downsample
        self.name = name  # the file, for error messages
        self.shape: tuple[int, ...] = tuple(int(n) for n in reader.shape)
        self.dtype: np.dtype[Any] = np.dtype(reader.dtype)
        self.chunks: tuple[int, ...] = tuple(int(n) for n in reader.chunks)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, box: Box) -> np.ndarray:
        """Pixels of an in-bounds box, one (start, stop) pair per axis, as a new array."""
        self._inside(box)
        return self._read(box)

    def _inside(self, box: Box) -> None:
        if len(box) != len(self.shape) or any(not 0 <= a <= b <= n for (a, b), n in zip(box, self.shape)):
            raise OutOfRangeError(f"box {tuple(box)} outside level {self.index} of shape {self.shape} ({self.axes})")

    def _read(self, box: Box) -> np.ndarray:
        """The reader's pixels of an in-bounds box, within the byte budget, failures typed: every
        read goes through here, so a source's third-party exception never escapes untyped."""
        where = f"{self.name or 'image'}: level {self.index} box {tuple(box)}"
        check_allocation(int(np.prod([b - a for a, b in box], dtype=object)) * self.dtype.itemsize, where)
        with typed_errors(self.name, f" (level {self.index}, box {tuple(box)})"):
            return self.reader.read(box)

    def read_into(self, targets: Sequence[tuple[Box, np.ndarray]]) -> None:
        """Fill each output with its in-bounds box (a batch of patches in one call): readers that
        can share chunks between the boxes (Zarr) fetch and decode each once; others read box by box."""
        for box, out in targets:
            self._inside(box)
            if out.shape != tuple(b - a for a, b in box):
                raise ValueError(f"output of shape {out.shape} for box {tuple(box)}")
        reader = self.reader
        if not isinstance(reader, SupportsReadInto):
            for box, out in targets:
                out[...] = self._read(box)
            return
        with typed_errors(self.name, f" (level {self.index}, {len(targets)} boxes)"):
            reader.read_into(targets)

    def __getitem__(self, key: Any) -> np.ndarray:
        spans = [span(k, n) for k, n in zip(expand_key(key, self.ndim), self.shape)]
        block = self._read(tuple((a, b) for (a, b, _), _ in spans))
        if any(step != 1 for (_, _, step), _ in spans):
            block = block[tuple(slice(None, None, step) for (_, _, step), _ in spans)]
        squeeze = tuple(i for i, (_, sq) in enumerate(spans) if sq)
        return block.squeeze(squeeze) if squeeze else block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self._read(tuple((0, n) for n in self.shape))
        return full if dtype is None else full.astype(dtype)

    # -- the slide view of a ``yxc`` level ----------------------------------------------------
    def _slide(self) -> None:
        if self.axes != SLIDE_AXES:
            raise AxesError(f"level {self.index} has axes {self.axes!r}; this needs a yxc slide level")

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Native (height, width) of the stored tiles or strips."""
        self._slide()
        return self.chunks[0], self.chunks[1]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as openslide orders it."""
        self._slide()
        return self.shape[1], self.shape[0]

    def rect(self, y: int, x: int, height: int, width: int) -> np.ndarray:
        """An in-bounds rectangle of a ``yxc`` level, every channel: (height, width, C)."""
        self._slide()
        return self.read(((y, y + height), (x, x + width), (0, self.shape[2])))

    def raw_tiles(self, positions: list[tuple[int, int]]) -> list[bytes] | None:
        """The stored tiles at (row, col) as standalone compressed files (for pass-through
        copies), or None when this level cannot give them."""
        reader = self.reader
        return reader.raw_tiles(positions) if isinstance(reader, SupportsRawTiles) else None

    def __repr__(self) -> str:
        return f"<Level {self.index} {self.axes} shape={self.shape} dtype={self.dtype} chunks={self.chunks}>"
