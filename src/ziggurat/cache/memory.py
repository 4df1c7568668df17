"""The in-process tile cache: an LRU bounded in bytes (default a fraction of total RAM)."""

from __future__ import annotations

import psutil

from .lru import DecodedTileCache
from .base import TileCache

DEFAULT_FRACTION = 1 / 16


def default_bytes() -> int:
    """The default budget: 1/16 of the machine's total memory, as psutil reports it."""
    return int(psutil.virtual_memory().total * DEFAULT_FRACTION)


class MemoryCache(TileCache):
    """Encoded tiles in this process, least recently used evicted past ``max_bytes``."""

    def __init__(self, max_bytes: int | None = None) -> None:
        super().__init__()
        self.max_bytes = default_bytes() if max_bytes is None else int(max_bytes)
        self._lru = DecodedTileCache(self.max_bytes)
        self.url = f"memory://?max={self.max_bytes}"

    def get(self, key: str) -> bytes | None:
        return self._count(self._lru.get(key))  # type: ignore[arg-type]

    def set(self, key: str, value: bytes) -> None:
        self._lru.put(key, value)

    def clear(self) -> None:
        self._lru.clear()

    @property
    def evictions(self) -> int:
        return self._lru.evictions

    @property
    def nbytes(self) -> int:
        return self._lru.nbytes
