"""The in-process tile cache: the one LRU, bounded in bytes (default a fraction of total RAM)."""

from __future__ import annotations

import psutil

from .base import TileCache
from .lru import LRU

DEFAULT_FRACTION = 1 / 16


def default_bytes() -> int:
    """The default budget: 1/16 of the machine's total memory, as psutil reports it."""
    return int(psutil.virtual_memory().total * DEFAULT_FRACTION)


class MemoryCache(TileCache):
    """Encoded tiles in this process, least recently used evicted past ``max_bytes``."""

    def __init__(self, max_bytes: int | None = None) -> None:
        super().__init__()
        self.max_bytes = default_bytes() if max_bytes is None else int(max_bytes)
        self._lru: LRU[str, bytes] = LRU(self.max_bytes)
        self.url = f"memory://?max={self.max_bytes}"

    def get(self, key: str) -> bytes | None:
        return self._count(self._lru.get(key))

    def get_local(self, key: str) -> bytes | None:
        return self.get(key)

    def get_remote(self, key: str) -> bytes | None:
        return None  # everything is local: the miss was counted by get_local

    def set(self, key: str, value: bytes) -> None:
        self._lru.put(key, bytes(value))

    def clear(self) -> None:
        self._lru.clear()

    @property
    def evictions(self) -> int:
        return self._lru.evictions

    @property
    def nbytes(self) -> int:
        return self._lru.used
