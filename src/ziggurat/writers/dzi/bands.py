"""Read a rectangle of a level top to bottom in bands aligned to its stored tiles.

Each stored tile is read and decoded once (bands start and end on tile rows). A damaged tile either raises
:class:`~ziggurat.errors.CorruptImageError` naming its location or, with ``skip_bad_tiles``, is
filled with the background and recorded in :attr:`RegionBands.bad_tiles`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ...errors import CorruptImageError
from ...model.level import Level

MIN_BAND_ROWS = 256
TILES_PER_READ = 16  # stored tiles decoded (in parallel) per read while filling a band


class RegionBands:
    """The rows of ``level[y0:y0+height, x0:x0+width]`` as consecutive bands."""

    def __init__(
        self,
        level: Level,
        region: tuple[int, int, int, int],
        fill: np.ndarray,
        skip_bad_tiles: bool = False,
    ) -> None:
        self.level = level
        self.x0, self.y0, self.width, self.height = region
        self.fill = fill
        self.skip_bad_tiles = skip_bad_tiles
        self.bad_tiles: list[dict[str, int | str]] = []
        th = level.tile_shape[0]
        self.step = th * max(1, -(-MIN_BAND_ROWS // th))

    def spans(self) -> Iterator[tuple[int, int]]:
        """(y, height) of each band, in level rows, ending on stored tile rows."""
        y, end = self.y0, self.y0 + self.height
        while y < end:
            stop = min(end, (y // self.step + 1) * self.step)
            yield y, stop - y
            y = stop

    def __iter__(self) -> Iterator[np.ndarray]:
        """Bands in order. (Reading the next band ahead on another thread was measured slower
        and 45 MB heavier: the encoders already keep both cores busy while a band decodes.)"""
        for y, height in self.spans():
            yield self.read(y, height)

    def read(self, y: int, height: int) -> np.ndarray:
        """Rows [y, y + height) of the region, read a few stored tiles across at a time (so
        the decoded tiles awaiting their copy into the band stay few)."""
        band = np.empty((height, self.width, self.level.shape[2]), self.level.dtype)
        step = self.level.tile_shape[1] * TILES_PER_READ
        for x in range(self.x0 // step * step, self.x0 + self.width, step):
            x1, x2 = max(self.x0, x), min(self.x0 + self.width, x + step)
            cell = band[:, x1 - self.x0 : x2 - self.x0]
            try:
                cell[...] = self.level.rect(y, x1, height, x2 - x1)
            except CorruptImageError:
                if not self.skip_bad_tiles:
                    raise
                cell[...] = self._read_tilewise(y, height, x1, x2 - x1)
        return band

    def _read_tilewise(self, y: int, height: int, x: int, width: int) -> np.ndarray:
        """Read a rectangle one stored tile at a time, filling the unreadable ones."""
        th, tw = self.level.tile_shape
        out = np.empty((height, width, self.level.shape[2]), self.level.dtype)
        for ty in range(y // th, (y + height - 1) // th + 1):
            y1, y2 = max(y, ty * th), min(y + height, (ty + 1) * th)
            for tx in range(x // tw, (x + width - 1) // tw + 1):
                x1, x2 = max(x, tx * tw), min(x + width, (tx + 1) * tw)
                cell = out[y1 - y : y2 - y, x1 - x : x2 - x]
                try:
                    cell[...] = self.level.rect(y1, x1, y2 - y1, x2 - x1)
                except CorruptImageError as exc:
                    cell[...] = self.fill
                    self.bad_tiles.append(
                        {"level": self.level.index, "row": ty, "col": tx, "x": tx * tw,
                         "y": ty * th, "error": str(exc)}
                    )  # fmt: skip
        return out
