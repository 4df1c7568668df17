"""Volume: a lazy 3-D (or 4-D ``c|t z y x``) multiscale array with spacing and a world affine.

Axis order follows OME-NGFF: ``z y x`` with an optional leading ``c`` or ``t``. A NIfTI voxel
index (i, j, k[, t]) maps to the volume index [t,] z=k, y=j, x=i, so ``volume.to_numpy()`` is
``nifti_data.T`` and ``volume.affine`` is exactly the NIfTI affine (it maps (x, y, z, 1) voxel
indices to RAS+ millimetres). Slicing reads only the chunks it touches; a Volume pickles as
"reopen this path" and is safe to read from many threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import OutOfRangeError
from .image import Image
from .indexing import expand_key, span
from ..sources.omezarr import VolumeMeta

SPATIAL = ("z", "y", "x")


class VolumeReader(Protocol):
    """What a volume backend provides per level: shape, dtype, chunking and box reads."""

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_shape: tuple[int, ...]

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray: ...


class VolumeLevel:
    """One resolution level: ``level[z0:z1, y0:y1, x0:x1]`` (ints and positive-step slices) reads it."""

    def __init__(self, reader: VolumeReader, index: int) -> None:
        self._reader = reader
        self.index = index

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._reader.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._reader.dtype)

    @property
    def chunks(self) -> tuple[int, ...]:
        """Shape of the stored chunks (the unit a read decodes)."""
        return tuple(self._reader.chunk_shape)

    @property
    def ndim(self) -> int:
        return len(self._reader.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        key = expand_key(key, self.ndim)
        spans = [span(k, n) for k, n in zip(key, self.shape)]
        block = self._reader.read([(a, b) for (a, b, _), _ in spans])
        steps = tuple(slice(None, None, s) for (_, _, s), _ in spans)
        if any(s.step != 1 for s in steps):
            block = block[steps]
        squeeze = tuple(i for i, (_, sq) in enumerate(spans) if sq)
        return block.squeeze(squeeze) if squeeze else block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self._reader.read([(0, n) for n in self.shape])
        return full if dtype is None else full.astype(dtype)

    def __repr__(self) -> str:
        return f"<VolumeLevel {self.index} shape={self.shape} dtype={self.dtype} chunks={self.chunks}>"


class Volume:
    """A multiscale volume, levels finest first (each halved in y and x)."""

    def __init__(
        self, readers: Sequence[VolumeReader], meta: VolumeMeta, path: str | None, format: str
    ) -> None:
        self.levels = tuple(VolumeLevel(r, i) for i, r in enumerate(readers))
        self.meta = meta
        self.path = path
        self.format = format

    @property
    def shape(self) -> tuple[int, ...]:
        return self.levels[0].shape

    @property
    def dtype(self) -> np.dtype:
        return self.levels[0].dtype

    @property
    def ndim(self) -> int:
        return self.levels[0].ndim

    @property
    def axes(self) -> tuple[str, ...]:
        return self.meta.axes

    @property
    def affine(self) -> np.ndarray:
        """4x4, NIfTI convention: (x, y, z, 1) voxel index -> RAS+ millimetres (a copy)."""
        return self.meta.affine.copy()

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size (z, y, x) in millimetres at level 0."""
        return tuple(self.meta.spacing[-3:])  # type: ignore[return-value]

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.levels[0][key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.levels[0].__array__(dtype)

    def to_dask(self, level: int = 0, chunks: tuple[int, ...] | None = None) -> Any:
        """Level ``level`` as a lazy ``dask.array``; see :func:`ziggurat.interop.dask.to_dask`."""
        from ..interop.dask import to_dask

        return to_dask(self, level, chunks)

    def to_numpy(self, level: int = 0) -> np.ndarray:
        """The whole level as one array."""
        return np.asarray(self.levels[level])

    def _plane(self, axis: str, index: int, level: int) -> np.ndarray:
        lead = (slice(None),) * (self.ndim - 3)
        key = tuple(index if a == axis else slice(None) for a in SPATIAL)
        return self.levels[level][lead + key]

    def axial(self, index: int, level: int = 0) -> np.ndarray:
        """Plane z = index: (y, x), or ([c|t], y, x) for 4-D."""
        return self._plane("z", index, level)

    def coronal(self, index: int, level: int = 0) -> np.ndarray:
        """Plane y = index: (z, x), or ([c|t], z, x)."""
        return self._plane("y", index, level)

    def sagittal(self, index: int, level: int = 0) -> np.ndarray:
        """Plane x = index: (z, y), or ([c|t], z, y)."""
        return self._plane("x", index, level)

    def slice_image(self, axis: str, index: int, *, channel: int = 0) -> Image:
        """One plane along ``axis`` ("z"/"axial", "y"/"coronal", "x"/"sagittal") as a 2-D Image.

        Its levels are the same plane at every volume level, so the tile engine can serve it.
        """
        from .. import from_array

        axis = {"axial": "z", "coronal": "y", "sagittal": "x"}.get(axis, axis)
        if axis not in SPATIAL:
            raise OutOfRangeError(f"axis must be z, y, x (or axial, coronal, sagittal), got {axis!r}")
        planes = []
        for level in range(len(self.levels)):
            plane = self._plane(axis, index if axis == "z" else index >> level, level)
            planes.append(plane[channel] if self.ndim == 4 else plane)
        in_plane = [s for a, s in zip(SPATIAL, self.spacing) if a != axis]
        mpp = (in_plane[1] * 1000, in_plane[0] * 1000)
        return from_array(planes, mpp=mpp)

    def __reduce__(self) -> tuple:
        if self.path is None:
            from ..sources.volumes import from_numpy

            return (from_numpy, (self.to_numpy(), self.meta))
        from ..sources.volumes import open_volume

        return (open_volume, (self.path,))

    def __repr__(self) -> str:
        return (
            f"<Volume {self.format} axes={''.join(self.axes)} shape={self.shape} dtype={self.dtype} "
            f"spacing={self.spacing} levels={len(self.levels)} path={self.path!r}>"
        )
