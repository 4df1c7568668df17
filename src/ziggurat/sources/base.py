"""What a format backend provides: one small protocol for every format, 2-D or 3-D (as tiled's adapters).

A backend is one module with one class. The class has a ``name``, a ``probe`` that rates how well it
reads a path (0 = not at all) without opening it, and a constructor that opens the path. The opened
source exposes its levels as :class:`LevelReader` objects — N-D arrays in the axis order of
``metadata.axes`` that read in-bounds boxes; everything else (bounds checks, slicing, padding, the
slide and volume views) lives in :mod:`ziggurat.model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: (start, stop) per axis, in bounds, in the level's axis order
Box = tuple[tuple[int, int], ...]

SLIDE_AXES = "yxc"
UNIT_NAMES = {"z": "millimeter", "y": "millimeter", "x": "millimeter", "t": "second"}


@runtime_checkable
class LevelReader(Protocol):
    """One resolution level: an N-D array readable by box."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    @property
    def chunks(self) -> tuple[int, ...]:
        """The stored tile/chunk shape: the unit one read decodes."""
        ...

    def read(self, box: Box) -> np.ndarray:
        """A new array holding exactly ``box`` (which lies inside the level)."""
        ...


@runtime_checkable
class SupportsRawTiles(Protocol):
    """A level whose stored tiles are standalone JPEG files, copied through without decoding."""

    def raw_tiles(self, positions: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """The stored tiles at (row, col), or None when this level's tiles are not JPEG."""
        ...


@runtime_checkable
class SupportsVersion(Protocol):
    """A source that knows which version of its bytes it opened (a remote object's ETag and size),
    so cache keys change when the object is replaced."""

    @property
    def version(self) -> str: ...


@runtime_checkable
class SupportsReadInto(Protocol):
    """A level that fills many boxes in one call, each stored chunk they share fetched and decoded once."""

    def read_into(self, targets: Sequence[tuple[Box, np.ndarray]]) -> None:
        """Fill each output (shaped as its in-bounds box, any strides) with that box's pixels."""
        ...


@runtime_checkable
class SupportsPlanes(Protocol):
    """A ``z y x`` level stored as whole planes (a stack of slice files), handed out without copying."""

    def plane(self, z: int) -> np.ndarray:
        """Plane ``z`` whole (possibly a read-only memory map)."""
        ...


@runtime_checkable
class SupportsStoredChunks(Protocol):
    """A Zarr level whose stored chunks (blosc bytes) can be copied into an output unchanged."""

    #: the blosc (compressor, level) they are stored with: an output of the same codec may copy them
    stored_codec: tuple[str, int]

    def stored_chunk(self, index: tuple[int, ...]) -> bytes | None:
        """Chunk ``index`` as stored (None: absent, i.e. all fill value)."""
        ...


@dataclass
class Metadata:
    """Facts about a source that do not depend on which level is read."""

    format: str
    axes: str = SLIDE_AXES
    #: physical size of a level-0 step along each axis, in ``units`` (None: the file does not say)
    scale: tuple[float, ...] | None = None
    units: tuple[str | None, ...] = ()
    #: 4x4, NIfTI convention: (x, y, z, 1) voxel index -> world millimetres (RAS+), for volumes
    affine: np.ndarray | None = None
    objective_power: float | None = None
    channel_names: list[str] = field(default_factory=list)
    channel_colors: list[tuple[int, int, int] | None] = field(default_factory=list)  # OME Channel Color
    #: channels are separate signals (fluorescence, multiplex), not one colour picture: rendered tinted,
    #: each with its own automatic window, even when they are 8-bit
    fluorescence: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    associated_names: list[str] = field(default_factory=list)
    #: the format's own metadata kept for exact export, e.g. {"nifti": {...}}, {"dicom": {...}}
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def slide(cls, format: str, mpp: tuple[float, float] | None = None, **facts: Any) -> Metadata:
        """Metadata of a ``yxc`` slide whose pixel size is ``mpp`` = (x, y) micrometres, if known."""
        scale = None if mpp is None else (float(mpp[1]), float(mpp[0]), 1.0)
        return cls(format, SLIDE_AXES, scale, ("micrometer", "micrometer", None), **facts)

    @property
    def mpp(self) -> tuple[float, float] | None:
        """(x, y) micrometres per level-0 pixel of a slide, when known."""
        if self.scale is None or self.units[:2] != ("micrometer", "micrometer") or self.axes != SLIDE_AXES:
            return None
        return self.scale[1], self.scale[0]

    @mpp.setter
    def mpp(self, value: tuple[float, float] | None) -> None:
        self.scale = None if value is None else (float(value[1]), float(value[0]), 1.0)

    @classmethod
    def volume(
        cls, format: str, axes: str, spacing: Sequence[float], affine: np.ndarray | None = None, **facts: Any
    ) -> Metadata:
        """Metadata of a ``[t|c] z y x`` volume with per-axis ``spacing`` (mm; seconds for t; 1 for c)."""
        scale = tuple(float(s) for s in spacing)
        if affine is None:
            by_axis = dict(zip(axes, scale))
            affine = np.diag([by_axis["x"], by_axis["y"], by_axis.get("z", 1.0), 1.0])
        units = tuple(UNIT_NAMES.get(a) for a in axes)
        return cls(format, axes, scale, units, np.asarray(affine, dtype=np.float64), **facts)


class Source(Protocol):
    """An opened file or store: levels (finest first), metadata, associated images."""

    name: str

    @property
    def levels(self) -> Sequence[LevelReader]: ...

    @property
    def metadata(self) -> Metadata: ...

    def read_associated(self, name: str) -> np.ndarray:
        """An associated image (label, macro, thumbnail) as an (H, W, C) array."""
        ...

    def close(self) -> None:
        """Release file handles (the Image reopens from its path when it is unpickled)."""
        ...


class SourceClass(Protocol):
    """The class a backend registers under the ``ziggurat.sources`` entry-point group."""

    name: str
    #: the highest score ``probe`` can return: probing stops once no backend left can outrank a claim
    rank: int

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        """Rate how well this backend reads ``path`` (0: cannot; higher wins); ``head`` is the
        file's first bytes (empty for a folder). Must not open the file fully: listing folders
        asks every backend."""
        ...

    def __call__(self, path: str, **options: Any) -> Source: ...


class NoAssociatedImages:
    """Mixin for sources without label/macro/thumbnail images."""

    def read_associated(self, name: str) -> np.ndarray:
        raise KeyError(name)


class ArrayReader:
    """A level held as an array in memory (decoded small files, assembled DICOM series, user arrays)."""

    def __init__(self, array: np.ndarray, chunks: Sequence[int] | None = None) -> None:
        self.array = array
        self.shape: tuple[int, ...] = tuple(array.shape)
        self.dtype: np.dtype[Any] = array.dtype
        self.chunks: tuple[int, ...] = tuple(min(c, n) for c, n in zip(chunks or array.shape, array.shape))

    def read(self, box: Box) -> np.ndarray:
        return self.array[tuple(slice(a, b) for a, b in box)].copy()


def format_number(value: float) -> str:
    """Numbers in properties as openslide prints them: integers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
