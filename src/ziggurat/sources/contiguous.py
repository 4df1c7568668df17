"""Uncompressed pixels stored contiguously, read with positional reads instead of a memory map.

A memory-mapped file that is truncated or rewritten in place while open (``cp new.tif served.tif``
does exactly that) kills the process with SIGBUS on the next touch of a vanished page. ``pread``
of the same bytes gets a short read instead, which :class:`~ziggurat.io.files.RandomAccessFile`
turns into a typed :class:`~ziggurat.errors.CorruptImageError`. A box is fetched as one span per
index of its leading axes, the split chosen by a cost model (a read costs about as much as
copying ~20 KB), so a box costs about its own bytes in few reads.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..errors import CorruptImageError
from ..io.files import RandomAccessFile
from ..io.opening import ByteFile
from .base import Box

READ_COST = 5e-6  # seconds per read (syscall, Python and NumPy overhead), measured on a warm page cache
COPY_RATE = 4e9  # bytes per second a warm read copies


class ContiguousArray:
    """An N-D row-major array of ``dtype`` (any byte order) stored from ``offset`` in ``file``."""

    def __init__(self, file: ByteFile, offset: int, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self._file = file
        self._offset = offset
        self._stored = np.dtype(dtype)
        self.shape = shape
        self.dtype = self._stored.newbyteorder("=")
        needed = offset + math.prod(shape) * self._stored.itemsize
        if needed > file.size:
            raise CorruptImageError(f"{file.path}: pixel data needs {needed:,} bytes, the file has {file.size:,}")
        self._strides = [math.prod(shape[k + 1 :]) for k in range(len(shape))]

    def _split(self, box: Box) -> int:
        """The first axis read whole per span: the cheapest of (reads x READ_COST + bytes / COPY_RATE)."""
        partial = [k for k, ((a, b), n) in enumerate(zip(box, self.shape)) if (a, b) != (0, n)]
        costs = []
        for j in range(partial[-1] + 1 if partial else 1):
            reads = math.prod(b - a for a, b in box[:j])
            span = sum((b - 1 - a) * s for (a, b), s in zip(box[j:], self._strides[j:])) + 1
            costs.append(reads * (READ_COST + span * self._stored.itemsize / COPY_RATE))
        return costs.index(min(costs))

    def read(self, box: Box, into: np.ndarray | None = None) -> np.ndarray:
        """The box (native byte order), written ``into`` a C-contiguous array of its shape when given."""
        extents = tuple(b - a for a, b in box)
        same = self._stored == self.dtype
        out = into if into is not None and same else np.empty(extents, self._stored)
        if 0 in extents:
            return out if same else out.astype(self.dtype)
        item, strides = self._stored.itemsize, self._strides
        j = self._split(box)
        base = sum(a * s for (a, _), s in zip(box[j:], strides[j:]))
        span = (sum((b - 1 - a) * s for (a, b), s in zip(box[j:], strides[j:])) + 1) * item
        leads = list(itertools.product(*(range(a, b) for a, b in box[:j])))
        starts = [self._offset + item * (base + sum(i * s for i, s in zip(lead, strides))) for lead in leads]
        wheres = [tuple(i - a for i, (a, _) in zip(lead, box)) for lead in leads]
        view_strides = tuple(s * item for s in strides[j:])
        if isinstance(self._file, RandomAccessFile):
            if extents[j + 1 :] == self.shape[j + 1 :]:  # each span fills a contiguous part of the output
                for where, start in zip(wheres, starts):
                    self._file.readinto(start, out[where].data)
            else:
                scratch = np.empty(span, np.uint8)  # one buffer for every span: no allocation per read
                for where, start in zip(wheres, starts):
                    self._file.readinto(start, scratch.data)
                    out[where] = np.ndarray(extents[j:], self._stored, scratch, 0, view_strides)
        else:  # a remote file: one round of coalesced range requests
            for where, piece in zip(wheres, self._file.read_ranges([(start, span) for start in starts])):
                out[where] = np.ndarray(extents[j:], self._stored, piece, 0, view_strides)
        if into is None:
            return out if same else out.astype(self.dtype)
        if out is not into:
            into[...] = out
        return into


class ContiguousLevel:
    """An (H, W, S) level whose samples start at ``offset``, row-major (or S planes of H x W)."""

    def __init__(
        self, file: ByteFile, offset: int, shape: tuple[int, int, int], dtype: np.dtype[Any], planar: bool,
        rows_per_chunk: int,
    ) -> None:  # fmt: skip
        h, w, samples = shape
        self._planar = planar
        self._array = ContiguousArray(file, offset, (samples, h, w) if planar else shape, dtype)
        self.shape = shape
        self.dtype = self._array.dtype
        self.tile_shape = (max(1, min(rows_per_chunk, h)), w)
        self.chunks: tuple[int, ...] = (*self.tile_shape, samples)

    def read(self, box: Box) -> np.ndarray:
        if not self._planar:
            return self._array.read(box)
        rows, cols, channels = box
        return np.ascontiguousarray(np.moveaxis(self._array.read((channels, rows, cols)), 0, -1))
