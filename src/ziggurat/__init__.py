"""ziggurat: a fast engine for gigantic biomedical images.

>>> import ziggurat
>>> image = ziggurat.open("slide.svs")                  # doctest: +SKIP
>>> tile = image.read_region((1000, 2000), 0, (512, 512))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from . import errors
from .model.image import Image, Level
from .sources.array import ArraySource
from .sources.registry import open_source
from .model.volume import Volume
from .tiles.service import TileService
from .sources.volumes import kind_of as volume_kind
from .sources.volumes import open_volume

__all__ = ["Image", "Level", "TileService", "Volume", "errors", "from_array", "open", "open_volume"]
__version__ = "0.1.0"


def open(path: str | os.PathLike, backend: str | None = None, **options: object) -> Image | Volume:  # noqa: A001
    """Open any supported image; ``backend`` forces one (``"tiff"``, ``"openslide"``, ...).

    OME-Zarr stores, NIfTI files, DICOM series and folders of TIFF slices open as a :class:`Volume`.
    ``cache="memcached://host:11211"`` (or memory://, redis://) sets an Image's tile cache.
    """
    path = os.fspath(path)
    if backend is None and volume_kind(path) is not None:
        return open_volume(path, **options)
    cache = options.pop("cache", None)
    source = open_source(path, backend, **options)
    image = Image(source, path, source.name)
    if cache is not None:
        from .cache import shared_cache

        image.tile_cache = shared_cache(cache)  # type: ignore[arg-type]
    return image


def from_array(
    levels: np.ndarray | Sequence[np.ndarray],
    *,
    mpp: tuple[float, float] | None = None,
    tile_shape: tuple[int, int] = (256, 256),
    channel_names: Sequence[str] = (),
) -> Image:
    """Wrap an (H, W[, C]) array, or a list of them finest first, as an Image."""
    if isinstance(levels, np.ndarray):
        levels = [levels]
    source = ArraySource(levels, mpp=mpp, tile_shape=tile_shape, channel_names=channel_names)
    return Image(source, None, "array")
