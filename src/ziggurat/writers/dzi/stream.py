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

from ...kernels import reduce2
from ...tiles.grid import TileGrid

# called with (grid level, tile row, the row's pixels as consecutive row pieces)
RowSink = Callable[[int, int, list[np.ndarray]], None]


class LevelStream:
    """One grid level being filled from the top; emits tile rows as soon as they are complete.

    Received blocks are kept as they are (no concatenation): a tile row is handed on as views
    of the blocks it spans, and whoever encodes a tile joins its pieces on its own thread.
    """

    def __init__(self, grid: TileGrid, level: int, sink: RowSink, coarser: LevelStream | None) -> None:
        self.grid, self.level, self.sink, self.coarser = grid, level, sink, coarser
        self.width, self.height = grid.level_dimensions[level]
        self.rows = grid.level_tiles[level][1]
        self._blocks: list[tuple[int, np.ndarray]] = []  # (first level row, block), in order
        self._received = 0
        self._next_row = 0
        self._carry: np.ndarray | None = None  # an odd row waiting for its pair

    def push(self, block: np.ndarray) -> None:
        """Append the next rows of this level (full width) and emit what they complete."""
        if block.shape[1] != self.width:
            raise ValueError(f"level {self.level}: block width {block.shape[1]} != {self.width}")
        self._blocks.append((self._received, block))
        self._received += block.shape[0]
        self._emit_ready()
        if self.coarser is not None:
            if self._carry is not None:
                block = np.concatenate([self._carry, block])
            even = block.shape[0] - block.shape[0] % 2
            self._carry = block[even:] if even < block.shape[0] else None
            if even:
                self.coarser.push(reduce2(block[:even], (0, 1)))

    def finish(self) -> None:
        """Flush the last odd row to the coarser levels and check every tile row was emitted."""
        if self._received != self.height or self._next_row != self.rows:
            raise RuntimeError(f"level {self.level}: received {self._received} of {self.height} rows")
        if self.coarser is not None:
            if self._carry is not None:
                self.coarser.push(reduce2(self._carry, (0, 1)))
            self.coarser.finish()

    def _emit_ready(self) -> None:
        while self._next_row < self.rows:
            _, y, _, h = self.grid.tile_bounds(self.level, 0, self._next_row)
            if self._received < y + h:
                break
            self.sink(self.level, self._next_row, self._pieces(y, y + h))
            self._next_row += 1
            if self._next_row < self.rows:  # drop blocks no later tile row needs
                _, keep_from, _, _ = self.grid.tile_bounds(self.level, 0, self._next_row)
                while self._blocks and self._blocks[0][0] + len(self._blocks[0][1]) <= keep_from:
                    self._blocks.pop(0)

    def _pieces(self, y0: int, y1: int) -> list[np.ndarray]:
        """Views of the held blocks covering level rows [y0, y1)."""
        pieces = []
        for start, block in self._blocks:
            lo, hi = max(y0, start), min(y1, start + len(block))
            if lo < hi:
                pieces.append(block[lo - start : hi - start])
        return pieces


def build_chain(grid: TileGrid, finest: int, coarsest: int, sink: RowSink) -> LevelStream:
    """Streams for grid levels ``finest`` down to ``coarsest``; push the finest level's rows."""
    stream = None
    for level in range(coarsest, finest + 1):
        stream = LevelStream(grid, level, sink, stream)
    assert stream is not None
    return stream
