"""Read-ahead along a tile row: when requests walk a row (column c - 1, then c), read c + 1 meanwhile.

A DeepZoom tiler (openslide's ``deepzoom_tile.py``, a viewer panning) asks for tiles row by row;
each new tile needs about one freshly decoded stored tile, decoded on the caller's thread while the
second core idles. :class:`RowReadAhead` spends that core on the next tile of the row, in the
process's one read-ahead thread (never the decode pool, whose workers wait on each other's
decodes), only after two consecutive columns were asked for, and holds at most one guess, so random
access costs nothing but the check. A guess that fails keeps its exception for whoever asks for
that tile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
Address = tuple[int, int, int]  # (level, col, row)


class RowReadAhead(Generic[T]):
    """``get(level, col, row)`` returns ``read(level, col, row)``, reading the row's next tile ahead."""

    def __init__(self, read: Callable[[int, int, int], T], columns: Callable[[int], int]) -> None:
        """``columns(level)``: how many tiles a row of ``level`` has."""
        self._read, self._columns = read, columns
        self._lock = threading.Lock()
        self._last: Address | None = None
        self._ahead: tuple[Address, Future[T]] | None = None

    def get(self, level: int, col: int, row: int) -> T:
        here = (level, col, row)
        with self._lock:
            guess, self._ahead = self._ahead, None
            walking = self._last == (level, col - 1, row)
            self._last = here
            if walking and col + 1 < self._columns(level):
                self._ahead = ((level, col + 1, row), _executor().submit(self._read, level, col + 1, row))
        if guess is not None and guess[0] == here:
            return guess[1].result()
        return self._read(level, col, row)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The process's read-ahead thread (one: a guess per walker, and the decodes fan out anyway)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(1, thread_name_prefix="ziggurat-readahead")
        return _pool
