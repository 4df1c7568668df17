"""Levels stored as a grid of compressed tiles: the read plan shared by the tiled formats.

A box is cut into the stored tiles it touches; tiles come from the decoded-tile LRU or are fetched
and decoded, then copied into one output array. Subclasses say how to fetch a tile's bytes and
decode them (a TIFF tile, a DICOM frame).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np

from ..cache.lru import LRU, decoded_tiles
from ..io.pools import decode_pool
from .base import Box

T = TypeVar("T")
R = TypeVar("R")
#: ``decoded_cache``: True = the process default (``cache.decoded_tiles()``), False = none, or an LRU
DecodedOption = bool | LRU[Any, Any]


def decode_all(decode: Callable[[T], R], jobs: Sequence[T]) -> list[R]:
    """``decode`` over ``jobs``: the calling thread decodes the first job while the decode pool takes
    the others (one job is decoded in the calling thread alone). Decoding a request in its own thread
    when another request is decoding was measured slower (docs/benchmarks.md, issue 11) and is not done."""
    if len(jobs) <= 1:
        return [decode(job) for job in jobs]
    futures = [decode_pool().submit(decode, job) for job in jobs[1:]]
    return [decode(jobs[0])] + [f.result() for f in futures]


def cache_of(option: DecodedOption) -> LRU[Hashable, Any] | None:
    """The LRU a ``decoded_cache`` option names (None: no caching)."""
    return decoded_tiles() if option is True else option if isinstance(option, LRU) else None  # (an empty LRU is falsy)


class TiledLevel:
    """A ``y x c`` level stored as (th, tw) tiles; subclasses implement :meth:`_load`."""

    shape: tuple[int, int, int]
    dtype: np.dtype[Any]
    tile_shape: tuple[int, int]
    chunks: tuple[int, ...]

    def __init__(
        self, shape: tuple[int, int, int], dtype: np.dtype[Any], tile_shape: tuple[int, int], key: Hashable,
        decoded: DecodedOption,
    ) -> None:  # fmt: skip
        self.shape = shape
        self.dtype = dtype
        self.tile_shape = tile_shape
        self.chunks = (*tile_shape, shape[2])
        self._key = key
        self._decoded_option = decoded

    def _load(self, positions: list[tuple[int, int]]) -> list[np.ndarray]:
        """Decoded (th, tw, C) tiles at grid (row, col) positions (none of them cached)."""
        raise NotImplementedError

    def read(self, box: Box) -> np.ndarray:
        (y, y_end), (x, x_end), (c0, c1) = box
        out = np.empty((y_end - y, x_end - x, self.shape[2]), dtype=self.dtype)
        if y_end > y and x_end > x:
            th, tw = self.tile_shape
            wanted = [
                (r, c) for r in range(y // th, (y_end - 1) // th + 1) for c in range(x // tw, (x_end - 1) // tw + 1)
            ]
            for (r, c), tile in zip(wanted, self._tiles(wanted)):
                ty0, tx0 = r * th, c * tw
                sy0, sy1 = max(y, ty0), min(y_end, ty0 + th)
                sx0, sx1 = max(x, tx0), min(x_end, tx0 + tw)
                out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = tile[sy0 - ty0 : sy1 - ty0, sx0 - tx0 : sx1 - tx0]
        return out if (c0, c1) == (0, self.shape[2]) else np.ascontiguousarray(out[..., c0:c1])

    def _tiles(self, wanted: list[tuple[int, int]]) -> list[np.ndarray]:
        cache = cache_of(self._decoded_option)
        tiles: list[np.ndarray | None] = [None] * len(wanted)
        if cache is not None:
            tiles = [cache.get((self._key, rc)) for rc in wanted]
        missing = [i for i, tile in enumerate(tiles) if tile is None]
        if missing:
            for i, tile in zip(missing, self._load([wanted[i] for i in missing])):
                tiles[i] = tile
                if cache is not None:
                    cache.put((self._key, wanted[i]), tile)
        return tiles  # type: ignore[return-value]
