"""redis tile cache through redis-py (its connection pool reconnects by itself)."""

from __future__ import annotations

from typing import Any, cast

import redis

from .base import SharedCache


class RedisCache(SharedCache):
    """Tiles as plain redis strings, optionally expiring after ``ttl`` seconds."""

    def __init__(self, url: str, *, timeout: float = 0.25, ttl: int | None = None) -> None:
        super().__init__()
        self.url = url
        self.ttl = ttl
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, max_connections=64
        )

    def get(self, key: str) -> bytes | None:
        return self._count(self._guard(lambda: cast("bytes | None", self._client.get(key)), None))

    def set(self, key: str, value: bytes) -> None:
        self._guard(lambda: bool(self._client.set(key, value, ex=self.ttl)), False)

    def clear(self) -> None:
        self._guard(self._client.flushdb, False)

    @property
    def evictions(self) -> int:
        none: dict[str, Any] = {}
        info = self._guard(lambda: self._client.info("stats"), none)
        return int(info.get("evicted_keys", 0))
