"""Drop-in replacement for openslide-python's ``OpenSlide``: PIL in, PIL out, same names.

Switch existing code by changing one import::

    from ziggurat.interop.openslide import OpenSlide      # was: from openslide import OpenSlide

``read_region`` returns an RGBA ``PIL.Image`` whose pixels outside the slide are transparent, as
openslide's do; ``properties`` carries openslide's keys (``openslide.mpp-x``, ``openslide.vendor``…).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from PIL import Image as PILImage

from ..errors import UnsupportedFormatError, ZigguratError
from ..model.image import open_image

PROPERTY_NAME_COMMENT = "openslide.comment"
PROPERTY_NAME_VENDOR = "openslide.vendor"
PROPERTY_NAME_QUICKHASH1 = "openslide.quickhash-1"
PROPERTY_NAME_BACKGROUND_COLOR = "openslide.background-color"
PROPERTY_NAME_OBJECTIVE_POWER = "openslide.objective-power"
PROPERTY_NAME_MPP_X = "openslide.mpp-x"
PROPERTY_NAME_MPP_Y = "openslide.mpp-y"
PROPERTY_NAME_BOUNDS_X = "openslide.bounds-x"
PROPERTY_NAME_BOUNDS_Y = "openslide.bounds-y"
PROPERTY_NAME_BOUNDS_WIDTH = "openslide.bounds-width"
PROPERTY_NAME_BOUNDS_HEIGHT = "openslide.bounds-height"

OpenSlideError = ZigguratError
OpenSlideUnsupportedFormatError = UnsupportedFormatError


class OpenSlide:
    """A slide with openslide-python's interface, read by ziggurat."""

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        self._image = open_image(filename)

    @classmethod
    def detect_format(cls, filename: str | os.PathLike[str]) -> str | None:
        try:
            with open_image(filename) as image:
                return image.format
        except ZigguratError:
            return None

    @property
    def level_count(self) -> int:
        return self._image.level_count

    @property
    def dimensions(self) -> tuple[int, int]:
        return self._image.dimensions

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return self._image.level_dimensions

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return self._image.level_downsamples

    @property
    def properties(self) -> Mapping[str, str]:
        return self._image.properties

    @property
    def associated_images(self) -> Mapping[str, PILImage.Image]:
        return {name: _to_pil(arr) for name, arr in self._image.associated_images.items()}

    @property
    def color_profile(self) -> None:
        return None

    def get_best_level_for_downsample(self, downsample: float) -> int:
        return self._image.get_best_level_for_downsample(downsample)

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> PILImage.Image:
        """RGBA region: ``location`` in level-0 pixels, ``size`` at ``level``."""
        rgba = self._image.read_region(location, level, size, rgba=True)
        return PILImage.fromarray(_rgba8(rgba), "RGBA")

    def get_thumbnail(self, size: tuple[int, int]) -> PILImage.Image:
        return _to_pil(self._image.get_thumbnail(size))

    def set_cache(self, cache: object) -> None:
        """Accepted for compatibility; ziggurat's decoded-tile cache is process-wide."""

    def close(self) -> None:
        self._image.close()

    def __enter__(self) -> OpenSlide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ziggurat.interop.openslide.OpenSlide({self._image.path!r})"


def _rgba8(array: np.ndarray) -> np.ndarray:
    """Bring an RGBA-like array of any channel count and dtype to 8-bit RGBA."""
    alpha = array[..., -1:]
    colour = array[..., :-1]
    if colour.shape[-1] == 1:
        colour = np.repeat(colour, 3, axis=-1)
    colour = colour[..., :3]
    if array.dtype != np.uint8:
        top = np.iinfo(array.dtype).max if np.issubdtype(array.dtype, np.integer) else 1.0
        colour = (colour.astype(np.float32) * (255.0 / top)).clip(0, 255).astype(np.uint8)
        alpha = np.where(alpha > 0, 255, 0).astype(np.uint8)
    return np.concatenate([colour, alpha], axis=-1)


def _to_pil(array: np.ndarray) -> PILImage.Image:
    if array.shape[-1] == 1:
        return PILImage.fromarray(array[..., 0])
    return PILImage.fromarray(np.ascontiguousarray(array[..., :3]))
