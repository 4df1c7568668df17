"""memcached tile cache through pymemcache's pooled client.

memcached refuses items larger than its ``-I`` setting (1 MiB by default). Tiles rarely reach
that, but large PNG/TIFF/npy tiles can: start memcached with e.g. ``memcached -I 16m`` and pass
``?max_item=16MB`` in the URL. Larger values are not sent (counted in ``skipped``).
"""

from __future__ import annotations

from typing import Any

from pymemcache.client.base import PooledClient

from .base import SharedCache

DEFAULT_MAX_ITEM = 2**20


class MemcachedCache(SharedCache):
    """A pooled pymemcache client of one ``host:port`` server."""

    def __init__(self, server: tuple[str, int], *, timeout: float = 0.25,
                 max_item: int = DEFAULT_MAX_ITEM, pool_size: int = 16) -> None:  # fmt: skip
        super().__init__()
        self.url = f"memcached://{server[0]}:{server[1]}"
        self.max_item = max_item
        self.skipped = 0
        self._client = PooledClient(
            server, max_pool_size=pool_size, connect_timeout=timeout, timeout=timeout, no_delay=True
        )

    def get(self, key: str) -> bytes | None:
        return self._count(self._guard(lambda: self._client.get(key), None))

    def set(self, key: str, value: bytes) -> None:
        if len(value) > self.max_item:
            self.skipped += 1
            return
        self._guard(lambda: self._client.set(key, value, noreply=False), False)

    def clear(self) -> None:
        self._guard(self._client.flush_all, False)

    @property
    def evictions(self) -> int:
        none: dict[bytes, Any] = {}
        return int(self._guard(self._client.stats, none).get(b"evictions", 0))
