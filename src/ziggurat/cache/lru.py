"""The one LRU: thread-safe, bounded by a budget, with hit/miss/eviction counters.

Every in-process cache of ziggurat is one of these: decoded native tiles and synthesized blocks
(bytes-bounded, :func:`decoded_tiles`), encoded tiles (:class:`~ziggurat.cache.memory.MemoryCache`),
the server's open images and volume planes (count-bounded, ``sizeof=lambda v: 1``).

The process-default decoded-tile LRU is built on first use, not at import: its budget comes from
``ZIGGURAT_DECODED_CACHE`` (bytes, e.g. ``64MiB``; 0 disables), default 32 MiB as openslide's;
:func:`set_decoded_tiles` replaces it (an LRU, a budget, or None to rebuild from the environment).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from ..io.sizes import parse_size

__all__ = ["DEFAULT_DECODED_BYTES", "LRU", "decoded_tiles", "nbytes", "set_decoded_tiles"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
DEFAULT_DECODED_BYTES = 32 * 2**20
ENV_DECODED = "ZIGGURAT_DECODED_CACHE"


def nbytes(value: Any) -> int:
    """Size in bytes of an array (``.nbytes``) or a bytes-like value (``len``)."""
    size = getattr(value, "nbytes", None)
    return int(size) if size is not None else len(value)


class LRU(Generic[K, V]):
    """Values by key, least recently used evicted once the summed ``sizeof`` exceeds ``budget``.

    A value larger than the whole budget is not stored (it would evict everything for nothing).
    """

    def __init__(self, budget: int, sizeof: Callable[[V], int] = nbytes) -> None:
        if budget < 0:
            raise ValueError(f"LRU budget must be >= 0, got {budget}")
        self.budget = int(budget)
        self.sizeof = sizeof
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def get(self, key: K) -> V | None:
        """The value under ``key`` (now the most recently used), or None; counted."""
        with self._lock:
            held = self._items.get(key)
            if held is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return held[0]

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as the most recently used, evicting the oldest past the budget."""
        size = self.sizeof(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._used -= old[1]
            if size > self.budget:
                return
            self._items[key] = (value, size)
            self._used += size
            while self._used > self.budget:
                _, (_, evicted) = self._items.popitem(last=False)
                self._used -= evicted
                self.evictions += 1

    def pop(self, key: K) -> V | None:
        """Remove and return ``key``'s value (None if absent); not counted."""
        with self._lock:
            held = self._items.pop(key, None)
            if held is None:
                return None
            self._used -= held[1]
            return held[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0

    @property
    def used(self) -> int:
        """The summed ``sizeof`` of the stored values (bytes, for the default ``sizeof``)."""
        return self._used

    nbytes = used

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "items": len(self._items), "used": self._used, "budget": self.budget}  # fmt: skip

    def __repr__(self) -> str:
        return f"<LRU {self.stats()}>"


_decoded: LRU[Hashable, Any] | None = None
_decoded_lock = threading.Lock()


def decoded_tiles() -> LRU[Hashable, Any]:
    """The process-default LRU of decoded tiles, built on first use from ``ZIGGURAT_DECODED_CACHE``."""
    global _decoded
    if _decoded is None:
        with _decoded_lock:
            if _decoded is None:
                _decoded = LRU(parse_size(os.environ.get(ENV_DECODED) or DEFAULT_DECODED_BYTES))
    return _decoded


def set_decoded_tiles(lru: LRU[Hashable, Any] | int | str | None) -> LRU[Hashable, Any] | None:
    """Replace the process-default decoded-tile LRU: an LRU, a budget ("64MiB", 0 disables), or
    None (rebuilt from the environment on next use). Returns the new LRU (None for None)."""
    global _decoded
    with _decoded_lock:
        _decoded = lru if isinstance(lru, LRU) or lru is None else LRU(parse_size(lru))
        return _decoded
