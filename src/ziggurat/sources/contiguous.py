"""Uncompressed pixels stored contiguously, read with positional reads instead of a memory map.

A memory-mapped file that is truncated or rewritten in place while open (``cp new.tif served.tif``
does exactly that) kills the process with SIGBUS on the next touch of a vanished page. ``pread``
of the same bytes gets a short read instead, which :class:`~ziggurat.io.files.RandomAccessFile`
turns into a typed :class:`~ziggurat.errors.CorruptImageError`. One range per image row (per
plane when planar), neighbours merged into single reads, so a box costs about its own bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CorruptImageError
from ..io.files import RandomAccessFile
from .base import Box


class ContiguousLevel:
    """An (H, W, S) level whose samples start at ``offset``, row-major (or S planes of H x W)."""

    def __init__(
        self, file: RandomAccessFile, offset: int, shape: tuple[int, int, int], dtype: np.dtype[Any], planar: bool,
        rows_per_chunk: int,
    ) -> None:  # fmt: skip
        h, w, samples = shape
        self._file = file
        self._offset = offset
        self._planar = planar
        self._stored = np.dtype(dtype)
        self.shape = shape
        self.dtype = self._stored.newbyteorder("=")
        needed = offset + h * w * samples * self._stored.itemsize
        if needed > file.size:
            raise CorruptImageError(f"{file.path}: pixel data needs {needed:,} bytes, the file has {file.size:,}")
        self.tile_shape = (max(1, min(rows_per_chunk, h)), w)
        self.chunks: tuple[int, ...] = (*self.tile_shape, samples)

    def read(self, box: Box) -> np.ndarray:
        (y0, y1), (x0, x1), (c0, c1) = box
        h, w, samples = self.shape
        item = self._stored.itemsize
        rows, cols = y1 - y0, x1 - x0
        if self._planar:
            planes = range(c0, c1)
            ranges = [
                (self._offset + ((p * h + y) * w + x0) * item, cols * item) for p in planes for y in range(y0, y1)
            ]
            shape: tuple[int, ...] = (c1 - c0, rows, cols)
        else:
            ranges = [(self._offset + ((y * w + x0) * samples) * item, cols * samples * item) for y in range(y0, y1)]
            shape = (rows, cols, samples)
        if not ranges or cols == 0:
            return np.empty((rows, cols, c1 - c0), self.dtype)
        blob = b"".join(self._file.read_ranges(ranges))
        block = np.frombuffer(blob, dtype=self._stored).reshape(shape)
        block = np.moveaxis(block, 0, -1) if self._planar else block[..., c0:c1]
        return np.array(block, dtype=self.dtype, order="C")
