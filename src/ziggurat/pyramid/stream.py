"""Stream a pyramid level by level, row band by row band, with memory bounded by the width.

A :class:`LevelStream` receives its level's rows top to bottom, hands each complete row of tiles
(overlap included) to a callback, keeps only the rows the next tile row still needs, and feeds
its 2x2 halving to the next coarser level. Pushing the finest level's rows through a chain of
streams builds every level from one pass over the source: the memory held per level is about
``(tile_size + 2 * overlap + band rows) * width`` pixels, halving at each coarser level.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..grid import TileGrid
from .halve import halve

# called with (grid level, tile row, the rows of that tile row, the level row they start at)
RowSink = Callable[[int, int, np.ndarray, int], None]


class LevelStream:
    """One grid level being filled from the top; emits tile rows as soon as they are complete."""

    def __init__(self, grid: TileGrid, level: int, sink: RowSink, coarser: LevelStream | None) -> None:
        self.grid, self.level, self.sink, self.coarser = grid, level, sink, coarser
        self.width, self.height = grid.level_dimensions[level]
        self.rows = grid.level_tiles[level][1]
        self._buffer: np.ndarray | None = None
        self._buffer_y = 0  # level row of the buffer's first row
        self._received = 0
        self._next_row = 0
        self._carry: np.ndarray | None = None  # an odd row waiting for its pair

    def push(self, block: np.ndarray) -> None:
        """Append the next rows of this level (full width) and emit what they complete."""
        if block.shape[1] != self.width:
            raise ValueError(f"level {self.level}: block width {block.shape[1]} != {self.width}")
        self._received += block.shape[0]
        if self._buffer is None or not len(self._buffer):
            self._buffer = block
        else:
            self._buffer = np.concatenate([self._buffer, block])
        self._emit_ready()
        if self.coarser is not None:
            if self._carry is not None:
                block = np.concatenate([self._carry, block])
            even = block.shape[0] - block.shape[0] % 2
            self._carry = block[even:] if even < block.shape[0] else None
            if even:
                self.coarser.push(halve(block[:even]))

    def finish(self) -> None:
        """Flush the last odd row to the coarser levels and check every tile row was emitted."""
        if self._received != self.height or self._next_row != self.rows:
            raise RuntimeError(
                f"level {self.level}: received {self._received} of {self.height} rows"
            )
        if self.coarser is not None:
            if self._carry is not None:
                self.coarser.push(halve(self._carry))
            self.coarser.finish()

    def _emit_ready(self) -> None:
        assert self._buffer is not None
        while self._next_row < self.rows:
            _, y, _, h = self.grid.tile_bounds(self.level, 0, self._next_row)
            if self._received < y + h:
                break
            start = y - self._buffer_y
            self.sink(self.level, self._next_row, self._buffer[start : start + h], y)
            self._next_row += 1
            if self._next_row < self.rows:  # drop rows no later tile row needs
                _, keep_from, _, _ = self.grid.tile_bounds(self.level, 0, self._next_row)
                self._buffer = self._buffer[keep_from - self._buffer_y :]
                self._buffer_y = keep_from


def build_chain(grid: TileGrid, finest: int, coarsest: int, sink: RowSink) -> LevelStream:
    """Streams for grid levels ``finest`` down to ``coarsest``; push the finest level's rows."""
    stream = None
    for level in range(coarsest, finest + 1):
        stream = LevelStream(grid, level, sink, stream)
    assert stream is not None
    return stream
