"""Two tiers: a bounded in-process LRU in front of a shared memcached/redis cache.

``get_local`` asks only the local tier (a dict lookup: safe on an event loop); ``get_remote`` asks
the shared one and copies its hits down, so N worker processes share tiles without a network hop
for every repeat. ``set`` writes both tiers (network I/O: call it off the event loop).
"""

from __future__ import annotations

from .base import TileCache
from .memory import MemoryCache

DEFAULT_LOCAL_BYTES = 256 * 2**20


class TieredCache(TileCache):
    """``local`` (a MemoryCache, or its budget in bytes) in front of ``shared``."""

    def __init__(self, local: MemoryCache | int | None, shared: TileCache) -> None:
        super().__init__()
        self.local = local if isinstance(local, MemoryCache) else MemoryCache(local or DEFAULT_LOCAL_BYTES)
        self.shared = shared
        self.url = f"tiered:{self.local.url}+{shared.url}"

    def get(self, key: str) -> bytes | None:
        data = self.get_local(key)
        return data if data is not None else self.get_remote(key)

    def get_local(self, key: str) -> bytes | None:
        data = self.local.get(key)
        if data is not None:
            self.hits += 1
        return data

    def get_remote(self, key: str) -> bytes | None:
        data = self.shared.get(key)
        if data is not None:
            self.local.set(key, data)
        return self._count(data)

    def set(self, key: str, value: bytes) -> None:
        self.local.set(key, value)
        self.shared.set(key, value)

    def clear(self) -> None:
        self.local.clear()
        self.shared.clear()

    @property
    def evictions(self) -> int:
        return self.local.evictions

    @property
    def errors(self) -> int:
        return self.shared.errors

    @errors.setter
    def errors(self, value: int) -> None:
        pass  # the shared tier counts its own failures
