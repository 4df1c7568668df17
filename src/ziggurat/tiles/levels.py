"""Power-of-two pyramid levels for tiling: stored where the file has them, synthesized otherwise.

A level the file lacks (a slide stored at 1x and 4x has no 2x, and nothing coarser than its last
level) is made from the next finer power-of-two level by 2x2 area averaging, in blocks kept in a
decoded-tile LRU the caller gives (the tile service's), so each block is computed once and coarser
synthesized levels read the cached blocks of finer ones instead of going back to the file.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable
from typing import Any

import numpy as np

from ..cache.lru import LRU
from ..model.image import Image
from ..model.level import Level
from ..sources.base import Box
from ..kernels.resize import downsample2

BLOCK = 512
_tokens = itertools.count()


def halve(block: np.ndarray) -> np.ndarray:
    """The 2x reduce of one block (mean of 2x2, an odd edge repeats its last sample)."""
    return downsample2(block)


class SynthesizedReader:
    """A LevelReader that halves ``finer`` on demand, block by block cached in ``decoded``."""

    def __init__(self, finer: Level, decoded: LRU[Hashable, Any], block: int = BLOCK) -> None:
        h, w, c = finer.shape
        self.shape = (math.ceil(h / 2), math.ceil(w / 2), c)
        self.dtype = finer.dtype
        self.tile_shape = (block, block)
        self.chunks = (block, block, c)
        self._finer = finer
        self._decoded = decoded
        self._token = ("synth", next(_tokens))

    def read(self, box: Box) -> np.ndarray:
        (y, y_end), (x, x_end), (c0, c1) = box
        height, width = y_end - y, x_end - x
        out = np.empty((height, width, self.shape[2]), dtype=self.dtype)
        b = self.tile_shape[0]
        for r in range(y // b, (y + height - 1) // b + 1):
            for c in range(x // b, (x + width - 1) // b + 1):
                block = self._block(r, c)
                top, left = max(y, r * b), max(x, c * b)
                bottom, right = min(y + height, r * b + block.shape[0]), min(x + width, c * b + block.shape[1])
                out[top - y : bottom - y, left - x : right - x] = block[top - r * b : bottom - r * b,
                                                                        left - c * b : right - c * b]  # fmt: skip
        return out if (c0, c1) == (0, self.shape[2]) else out[..., c0:c1]

    def _block(self, r: int, c: int) -> np.ndarray:
        key = (self._token, r, c)
        block: np.ndarray | None = self._decoded.get(key)
        if block is None:
            fh, fw, _ = self._finer.shape
            b2 = 2 * self.tile_shape[0]
            y0, x0 = r * b2, c * b2
            block = halve(self._finer.rect(y0, x0, min(b2, fh - y0), min(b2, fw - x0)))
            self._decoded.put(key, block)
        return block


def stored_level(image: Image, exponent: int) -> Level | None:
    """The stored level whose size is level 0 halved ``exponent`` times (within a pixel)."""
    w0, h0 = image.dimensions
    want_w, want_h = math.ceil(w0 / 2**exponent), math.ceil(h0 / 2**exponent)
    for level in image.levels:
        w, h = level.size
        if abs(w - want_w) <= 1 and abs(h - want_h) <= 1:
            return level
    return None


def power_levels(image: Image, count: int, decoded: LRU[Hashable, Any]) -> list[Level]:
    """Levels with downsample 1, 2, 4, ... 2**(count-1): stored ones reused, the rest synthesized
    (their blocks kept in ``decoded``)."""
    levels: list[Level] = [image.levels[0]]
    for k in range(1, count):
        found = stored_level(image, k)
        if found is None:
            found = Level(SynthesizedReader(levels[-1], decoded), -k, levels[-1].axes, float(2**k))
        levels.append(found)
    return levels
