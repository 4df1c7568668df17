"""ziggurat: a fast engine for gigantic biomedical images.

>>> import ziggurat
>>> image = ziggurat.open("slide.svs")                  # doctest: +SKIP
>>> tile = image.read_region((1000, 2000), 0, (512, 512))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import errors
from .model.image import Image, open_image
from .model.level import Level
from .model.planes import plane
from .sources.array import ArraySource
from .sources.base import SLIDE_AXES, Metadata
from .sources.registry import detect
from .version import __version__ as __version__

if TYPE_CHECKING:
    from .cohort import Cohort
    from .tiles.service import TileService

__all__ = ["Cohort", "Image", "Level", "TileService", "detect", "errors", "from_array", "open", "plane", "to_dask"]


def open(path: str | os.PathLike[str], backend: str | None = None, **options: Any) -> Image:
    """Open any supported image — a slide, an OME-Zarr store, a NIfTI file, a DICOM series, a folder
    of slices, a Zarr array — as an :class:`Image`; ``backend`` forces one (``"tiff"``,
    ``"openslide"``, ``"tiffstack"``, ...), ``options`` go to the backend."""
    return open_image(path, backend, **options)


def from_array(
    levels: np.ndarray | Sequence[np.ndarray],
    *,
    axes: str | None = None,
    mpp: tuple[float, float] | None = None,
    spacing: Sequence[float] | None = None,
    affine: np.ndarray | None = None,
    chunks: Sequence[int] | None = None,
    channel_names: Sequence[str] = (),
) -> Image:
    """Wrap an array, or a list of them finest first, as an in-memory Image.

    ``axes`` defaults to ``yxc`` for 2-D (given a channel axis of 1) and 3-D arrays; name volumes
    explicitly (``axes="zyx"``, ``"czyx"``, …) with ``spacing`` per axis in mm and an optional NIfTI
    ``affine``. Slides take ``mpp`` = (x, y) micrometres. ``chunks`` is the nominal tile/chunk shape
    (default 256 x 256 for slides, the whole array otherwise).
    """
    arrays = [np.asarray(a) for a in ([levels] if isinstance(levels, np.ndarray) else levels)]
    if axes is None or axes == SLIDE_AXES:
        arrays = [a[..., None] if a.ndim == 2 else a for a in arrays]
        meta = Metadata.slide("array", mpp, channel_names=list(channel_names))
        chunks = chunks or (256, 256, arrays[0].shape[-1] if arrays else 1)
    else:
        meta = Metadata.volume("array", axes, spacing or (1.0,) * len(axes), affine, channel_names=list(channel_names))
    return Image(ArraySource(arrays, meta, chunks), None, "array")


def to_dask(image: Image, level: int = 0, chunks: Sequence[int] | None = None) -> Any:
    """Level ``level`` of an Image as a lazy ``dask.array``; see :func:`ziggurat.interop.dask.to_dask`."""
    from .interop.dask import to_dask as level_to_dask

    return level_to_dask(image, level, chunks)


def __getattr__(name: str) -> Any:
    """``ziggurat.TileService``, imported on first use: the tile path (styles, encoders, caches) costs
    ~90 ms of ``import ziggurat`` that readers, writers and reopening workers do not need."""
    if name == "TileService":
        from .tiles.service import TileService

        return TileService
    if name == "Cohort":  # DuckDB and Arrow load only for cohorts
        from .cohort import Cohort

        return Cohort
    raise AttributeError(f"module 'ziggurat' has no attribute {name!r}")
