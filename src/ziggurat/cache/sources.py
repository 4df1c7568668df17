"""The source cache: open Images kept by path, bounded by count and estimated memory.

Opening a slide parses its directory (tile offsets, metadata); reusing the open Image saves that
per request. Styles are applied per tile, so every styled view of a path shares one handle.
Evicted Images are not closed explicitly (another thread may still be reading); their files
close when the last reference goes.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import psutil

from ..image import Image

DEFAULT_COUNT = 64
BYTES_PER_TILE = 16  # an offset and a byte count per stored tile
BASE_BYTES = 2**20  # parsed metadata, properties, handles


def estimate_bytes(image: Image) -> int:
    """A rough resident size of an open Image: its tile index plus fixed overhead."""
    tiles = 0
    for level in image.levels:
        (h, w, _), (th, tw) = level.shape, level.tile_shape
        tiles += math.ceil(h / max(th, 1)) * math.ceil(w / max(tw, 1))
    return BASE_BYTES + BYTES_PER_TILE * tiles


class SourceCache:
    """LRU of ``ziggurat.open`` results keyed by (path, backend)."""

    def __init__(self, max_count: int = DEFAULT_COUNT, max_bytes: int | None = None) -> None:
        self.max_count = max_count
        self.max_bytes = int(psutil.virtual_memory().total / 32) if max_bytes is None else max_bytes
        self._items: OrderedDict[tuple[str, str | None], tuple[Image, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def get(self, path: str, backend: str | None = None) -> Image:
        """The open Image for ``path``, opening it on first use."""
        key = (str(path), backend)
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return entry[0]
            self.misses += 1
        from .. import open as open_image

        image = open_image(path, backend=backend)
        size = estimate_bytes(image)
        with self._lock:
            if key in self._items:  # another thread opened it meanwhile: keep one handle
                return self._items[key][0]
            self._items[key] = (image, size)
            self._bytes += size
            while len(self._items) > 1 and (len(self._items) > self.max_count or self._bytes > self.max_bytes):
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted
                self.evictions += 1
        return image

    def __len__(self) -> int:
        return len(self._items)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "count": len(self._items), "bytes": self._bytes}  # fmt: skip


SOURCES = SourceCache()
