"""A process-wide LRU of decoded native tiles, bounded in bytes (openslide keeps one too).

Reads that overlap the same native tile (neighbouring regions, DeepZoom tiles with overlap) decode
it once. The budget comes from ``ZIGGURAT_DECODED_CACHE`` (bytes; 0 disables), default 32 MiB as openslide's.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

DEFAULT_BYTES = 32 * 2**20


class DecodedTileCache:
    """Thread-safe LRU of arrays (or bytes) keyed by anything hashable, evicting past ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray | bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def get(self, key: Hashable) -> np.ndarray | bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: np.ndarray | bytes) -> None:
        size = _nbytes(value)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= _nbytes(old)
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= _nbytes(evicted)
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes


def _nbytes(value: np.ndarray | bytes) -> int:
    """Size of an array or a bytes-like value (the encoded tile caches store bytes)."""
    return value.nbytes if isinstance(value, np.ndarray) else len(value)


DECODED_TILES = DecodedTileCache(int(os.environ.get("ZIGGURAT_DECODED_CACHE", DEFAULT_BYTES)))
