"""What a format backend provides: a small protocol, as in tiled's adapters.

A backend is one module with one class. The class has a ``name``, a ``probe`` that rates how well it
reads a path (0 = not at all), and a constructor that opens the path. The opened source exposes
its levels as :class:`LevelReader` objects that read in-bounds rectangles; everything else
(padding, slicing, thumbnails, openslide compatibility) lives in :mod:`ziggurat.model.image`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LevelReader(Protocol):
    """One resolution level: an (H, W, C) array readable by rectangle."""

    shape: tuple[int, int, int]
    dtype: np.dtype
    tile_shape: tuple[int, int]

    def read(self, y: int, x: int, height: int, width: int) -> np.ndarray:
        """Return pixels [y:y+height, x:x+width, :]; the rectangle lies inside the level."""
        ...


@dataclass
class SourceMetadata:
    """Facts about a source that do not depend on which level is read."""

    format: str
    mpp: tuple[float, float] | None = None
    objective_power: float | None = None
    channel_names: list[str] = field(default_factory=list)
    channel_colors: list[tuple[int, int, int] | None] = field(default_factory=list)  # OME Channel Color
    properties: dict[str, str] = field(default_factory=dict)
    associated_names: list[str] = field(default_factory=list)


class Source(Protocol):
    """An opened file: levels (finest first), metadata, associated images."""

    name: str
    levels: list[LevelReader]
    metadata: SourceMetadata

    def read_associated(self, name: str) -> np.ndarray:
        """Return an associated image (label, macro, thumbnail) as an (H, W, C) array."""
        ...

    def close(self) -> None:
        """Release file handles; the source may be reopened from its path."""
        ...


class SourceClass(Protocol):
    """The class a backend registers under the ``ziggurat.sources`` entry-point group."""

    name: str

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        """Rate how well this backend reads ``path`` (0: cannot; higher wins)."""
        ...

    def __call__(self, path: str, **options: object) -> Source: ...
