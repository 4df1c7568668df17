"""The volume view of an Image: planes, spacing and the world affine of ``[t|c] z y x`` levels.

Axis order follows OME-NGFF: ``z y x`` with leading ``c`` and/or ``t``. A NIfTI voxel index
(i, j, k[, t]) maps to the image index [t,] z=k, y=j, x=i, so ``image.to_numpy()`` is
``nifti_data.T`` and ``image.affine`` is exactly the NIfTI affine (it maps (x, y, z, 1) voxel
indices to RAS+ millimetres).
"""

from __future__ import annotations

import numpy as np

from ..errors import AxesError
from ..sources.base import Metadata
from .level import Level

SPATIAL = ("z", "y", "x")
PLANE_NAMES = {"axial": "z", "coronal": "y", "sagittal": "x", "z": "z", "y": "y", "x": "x"}


class VolumeView:
    """Mixin of :class:`~ziggurat.model.image.Image`: axial/coronal/sagittal planes and geometry."""

    levels: tuple[Level, ...]
    metadata: Metadata
    path: str | None

    @property
    def is_volume(self) -> bool:
        """Whether the axes end in ``z y x``."""
        return self.metadata.axes.endswith("zyx")

    def _volume(self) -> None:
        if not self.is_volume:
            raise AxesError(f"{self.path or 'image'} has axes {self.metadata.axes!r}; this call needs [t|c] z y x")

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size (z, y, x) in millimetres at level 0."""
        self._volume()
        scale = self.metadata.scale or (1.0,) * len(self.metadata.axes)
        return scale[-3], scale[-2], scale[-1]

    @property
    def affine(self) -> np.ndarray:
        """4x4, NIfTI convention: (x, y, z, 1) voxel index -> RAS+ millimetres (a copy)."""
        self._volume()
        if self.metadata.affine is None:
            sz, sy, sx = self.spacing
            return np.diag([sx, sy, sz, 1.0])
        return self.metadata.affine.copy()

    def to_numpy(self, level: int = 0) -> np.ndarray:
        """The whole level as one array."""
        return np.asarray(self.levels[level])

    def _plane(self, axis: str, index: int, level: int) -> np.ndarray:
        self._volume()
        lead = (slice(None),) * (len(self.metadata.axes) - 3)
        key = tuple(index if a == axis else slice(None) for a in SPATIAL)
        return self.levels[level][lead + key]

    def axial(self, index: int, level: int = 0) -> np.ndarray:
        """Plane z = index: (y, x), or ([t], [c], y, x) with leading axes."""
        return self._plane("z", index, level)

    def coronal(self, index: int, level: int = 0) -> np.ndarray:
        """Plane y = index: (z, x), or with leading axes."""
        return self._plane("y", index, level)

    def sagittal(self, index: int, level: int = 0) -> np.ndarray:
        """Plane x = index: (z, y), or with leading axes."""
        return self._plane("x", index, level)
