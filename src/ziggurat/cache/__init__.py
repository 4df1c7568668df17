"""Caches: bytes (or arrays) by key, with budgets and counters; tile caches configured by URL.

* :class:`LRU` — the one in-process LRU (thread-safe, bytes- or count-bounded, counters);
  :func:`decoded_tiles` / :func:`set_decoded_tiles` — the process-default LRU of decoded tiles;
* tile caches by URL: ``memory://?max=2GB``, ``memcached://host:11211``, ``redis://host:6379/0``,
  ``none://`` (:func:`open_cache`); :class:`TieredCache` puts a local LRU in front of a shared one.

``set_default(url)`` sets the process-wide tile cache, which otherwise comes from the
``ZIGGURAT_CACHE`` environment variable, else an in-memory LRU sized from total RAM.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import parse_qs, urlsplit

from ..errors import CacheConfigError
from ..io.sizes import SizeError, parse_size
from .base import CacheUnavailableWarning, SharedCache, TileCache
from .lru import LRU, decoded_tiles, set_decoded_tiles
from .memory import MemoryCache
from .tiered import TieredCache

__all__ = ["LRU", "CacheUnavailableWarning", "MemoryCache", "NullCache", "SharedCache", "TieredCache",
           "TileCache", "decoded_tiles", "get_default", "open_cache", "parse_size", "set_decoded_tiles",
           "set_default", "shared_cache"]  # fmt: skip

_default: TileCache | None = None
_default_lock = threading.Lock()


class NullCache(TileCache):
    """Caches nothing (``none://``): every get is a miss."""

    url = "none://"

    def get(self, key: str) -> bytes | None:
        return self._count(None)

    def set(self, key: str, value: bytes) -> None:
        pass

    def clear(self) -> None:
        pass


def _size(params: dict[str, str], name: str, url: str) -> int | None:
    if name not in params:
        return None
    try:
        return parse_size(params.pop(name))
    except SizeError as exc:
        raise CacheConfigError(f"cache URL {url!r}: {name}: {exc}") from None


def open_cache(url: str | TileCache) -> TileCache:
    """A new tile cache from its URL (a TileCache passes through)."""
    if isinstance(url, TileCache):
        return url
    parts = urlsplit(url)
    params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        timeout = float(params.pop("timeout", 0.25))
    except ValueError:
        raise CacheConfigError(f"cache URL {url!r}: timeout must be a number of seconds") from None
    if parts.scheme == "memory":
        max_bytes = _size(params, "max", url)
        _no_more(params, url)
        return MemoryCache(max_bytes)
    if parts.scheme == "none":
        _no_more(params, url)
        return NullCache()
    if parts.scheme == "memcached":
        from .memcached import DEFAULT_MAX_ITEM, MemcachedCache

        max_item = _size(params, "max_item", url)
        _no_more(params, url)
        return MemcachedCache((parts.hostname or "localhost", parts.port or 11211),
                              timeout=timeout, max_item=DEFAULT_MAX_ITEM if max_item is None else max_item)  # fmt: skip
    if parts.scheme in ("redis", "rediss", "unix"):
        from .redis import RedisCache

        ttl = params.pop("ttl", None)
        _no_more(params, url)
        if ttl is not None and not ttl.isdigit():
            raise CacheConfigError(f"cache URL {url!r}: ttl must be whole seconds")
        return RedisCache(parts._replace(query="").geturl(), timeout=timeout, ttl=None if ttl is None else int(ttl))
    raise CacheConfigError(f"cache URL {url!r}: unknown scheme (memory://, memcached://, redis://, none://)")


_shared: dict[str, TileCache] = {}


def shared_cache(url: str | TileCache) -> TileCache:
    """One cache object per URL for the whole process (clients and pools are reused)."""
    if isinstance(url, TileCache):
        return url
    cache = _shared.get(url)
    if cache is None:
        with _default_lock:
            cache = _shared.get(url) or _shared.setdefault(url, open_cache(url))
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
