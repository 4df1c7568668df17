"""Tile caches configured by URL: ``memory://?max=2GB``, ``memcached://host:11211``, ``redis://host:6379/0``.

``open_cache(url)`` builds a backend; ``set_default(url)`` sets the process-wide default, which
otherwise comes from the ``ZIGGURAT_CACHE`` environment variable, else an in-memory LRU sized from
total RAM. ``none://`` disables caching.
"""

from __future__ import annotations

import os
import re
import threading
from urllib.parse import parse_qs, urlsplit

from ..errors import CacheConfigError
from .base import CacheUnavailableWarning, SharedCache, TileCache
from .memory import MemoryCache

__all__ = ["CacheUnavailableWarning", "MemoryCache", "NullCache", "SharedCache", "TileCache",
           "get_default", "open_cache", "parse_size", "set_default", "shared_cache"]  # fmt: skip

_default: TileCache | None = None
_default_lock = threading.Lock()

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "K": 2**10, "M": 2**20, "G": 2**30}  # fmt: skip


class NullCache(TileCache):
    """Caches nothing (``none://``): every get is a miss."""

    url = "none://"

    def get(self, key: str) -> bytes | None:
        return self._count(None)

    def set(self, key: str, value: bytes) -> None:
        pass

    def clear(self) -> None:
        pass


def parse_size(text: str) -> int:
    """'2GB', '512MiB', '16m', '1000' -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise CacheConfigError(f"cache size: cannot read {text!r} (use e.g. 2GB, 512MiB)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def open_cache(url: str | TileCache) -> TileCache:
    """A tile cache from its URL (a TileCache passes through)."""
    if isinstance(url, TileCache):
        return url
    parts = urlsplit(url)
    params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    timeout = float(params.pop("timeout", 0.25))
    if parts.scheme == "memory":
        max_bytes = parse_size(params.pop("max")) if "max" in params else None
        _no_more(params, url)
        return MemoryCache(max_bytes)
    if parts.scheme == "none":
        return NullCache()
    if parts.scheme == "memcached":
        from .memcached import DEFAULT_MAX_ITEM, MemcachedCache

        max_item = parse_size(params.pop("max_item")) if "max_item" in params else DEFAULT_MAX_ITEM
        _no_more(params, url)
        return MemcachedCache((parts.hostname or "localhost", parts.port or 11211),
                              timeout=timeout, max_item=max_item)  # fmt: skip
    if parts.scheme in ("redis", "rediss", "unix"):
        from .redis import RedisCache

        ttl = int(params.pop("ttl")) if "ttl" in params else None
        _no_more(params, url)
        return RedisCache(parts._replace(query="").geturl(), timeout=timeout, ttl=ttl)
    raise CacheConfigError(f"cache URL {url!r}: unknown scheme (memory://, memcached://, redis://, none://)")


_shared: dict[str, TileCache] = {}


def shared_cache(url: str | TileCache) -> TileCache:
    """One cache object per URL for the whole process (clients and pools are reused)."""
    if isinstance(url, TileCache):
        return url
    cache = _shared.get(url)
    if cache is None:
        with _default_lock:
            cache = _shared.setdefault(url, open_cache(url))
    return cache


def _no_more(params: dict[str, str], url: str) -> None:
    if params:
        raise CacheConfigError(f"cache URL {url!r}: unknown option {min(params)!r}")




def set_default(cache: str | TileCache | None) -> None:
    """Set (or with None, reset to ``ZIGGURAT_CACHE`` / memory) the process-wide tile cache."""
    global _default
    with _default_lock:
        _default = None if cache is None else open_cache(cache)


def get_default() -> TileCache:
    """The process-wide tile cache, built on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = open_cache(os.environ.get("ZIGGURAT_CACHE") or "memory://")
    return _default
