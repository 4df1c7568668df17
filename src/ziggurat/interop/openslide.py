"""openslide-python 1.4's public API over ziggurat: ``from ziggurat import openslide`` and nothing else changes.

Same names, same semantics, same exception types (checked side by side against openslide-python in
``tests/interop``): paths as ``str``, ``bytes`` or ``PathLike``; ``properties`` and
``associated_images`` are read-only Mappings; ``read_region`` returns an un-premultiplied RGBA PIL
image, transparent outside the slide (and wholly transparent for a level that does not exist, as
openslide's is); a read error latches, so every later call but ``close`` raises
:class:`OpenSlideError`; a closed handle refuses use with openslide's ``ctypes.ArgumentError``
(here also a ``ValueError``). ``OpenSlide`` opens every 2-D slide ziggurat reads (formats only
openslide knows, such as MRXS, go through ziggurat's openslide backend); plain pictures and volumes
raise :class:`OpenSlideUnsupportedFormatError`, so :func:`open_slide` hands them to
:class:`ImageSlide`, as openslide does. ``read_region(..., as_array=True)`` returns the region as a
NumPy array instead (tiffslide's keyword). ``OpenSlide("s3://…")`` and ``https://`` URLs open the
formats ziggurat reads from object storage (TIFF, SVS, OME-TIFF, QPTIFF, NDPI, and DICOM WSI by prefix
or instance; credentials from the environment or :func:`ziggurat.io.locations.configure`); any other
format on a URL raises :class:`OpenSlideUnsupportedFormatError` saying that it needs a local file.
"""

from __future__ import annotations

import ctypes
import os
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from io import BytesIO
from numbers import Integral, Real
from types import TracebackType
from typing import Any, Literal, TypeVar

import numpy as np
from PIL import Image, ImageCms

from ..cache.lru import LRU
from ..errors import CorruptImageError, ImageNotFoundError, UnsupportedFormatError, ZigguratError
from ..io.locations import is_url
from ..model.image import Image as ZImage
from ..model.image import open_image
from ..sources.base import SLIDE_AXES
from ..sources.registry import detect
from ..version import __version__ as _ziggurat_version

__version__ = f"1.4.7+ziggurat.{_ziggurat_version}"
__library_version__ = f"4.0.0+ziggurat.{_ziggurat_version}"

PROPERTY_NAME_BACKGROUND_COLOR = "openslide.background-color"
PROPERTY_NAME_BARCODE = "openslide.barcode"
PROPERTY_NAME_BOUNDS_HEIGHT = "openslide.bounds-height"
PROPERTY_NAME_BOUNDS_WIDTH = "openslide.bounds-width"
PROPERTY_NAME_BOUNDS_X = "openslide.bounds-x"
PROPERTY_NAME_BOUNDS_Y = "openslide.bounds-y"
PROPERTY_NAME_COMMENT = "openslide.comment"
PROPERTY_NAME_MPP_X = "openslide.mpp-x"
PROPERTY_NAME_MPP_Y = "openslide.mpp-y"
PROPERTY_NAME_OBJECTIVE_POWER = "openslide.objective-power"
PROPERTY_NAME_QUICKHASH1 = "openslide.quickhash-1"
PROPERTY_NAME_VENDOR = "openslide.vendor"

Filename = str | bytes | os.PathLike[Any]
_T = TypeVar("_T")
#: ziggurat backends whose files openslide would call plain images (``open_slide`` gives an ImageSlide)
PICTURE_BACKENDS = ("pillow",)
MIN_CACHE_BYTES, MAX_CACHE_BYTES = 32 << 20, 256 << 20


class OpenSlideError(ZigguratError):
    """An error from the slide (openslide's type; also a :class:`~ziggurat.errors.ZigguratError`)."""


class OpenSlideVersionError(OpenSlideError):
    """This version does not support the requested functionality."""

    def __init__(self, minimum_version: str) -> None:
        super().__init__(f"OpenSlide >= {minimum_version} required")
        self.minimum_version = minimum_version


class OpenSlideUnsupportedFormatError(OpenSlideError, UnsupportedFormatError):
    """The file is missing or not a slide this module opens."""


class _ArgumentValueError(ctypes.ArgumentError, ValueError):
    """What openslide's ctypes layer raises for a bad value (a closed handle); a ValueError too."""


class _ArgumentTypeError(ctypes.ArgumentError, TypeError):
    """What openslide's ctypes layer raises for an argument of the wrong type; a TypeError too."""


def _closed() -> _ArgumentValueError:
    return _ArgumentValueError("argument 1: ValueError: Passing closed slide object")


def _integers(position: int, *values: object) -> None:
    """openslide's ctypes check: integer arguments must be integers (bools and NumPy ints pass)."""
    for offset, value in enumerate(values):
        if not isinstance(value, Integral):
            raise _ArgumentTypeError(f"argument {position + offset}: TypeError: wrong type")


def _fspath(filename: Filename, position: int = 1) -> str:
    """A filename as ``str`` (bytes decoded with the file-system encoding), checked like openslide."""
    try:
        return os.fsdecode(os.fspath(filename))
    except TypeError as exc:
        raise _ArgumentTypeError(f"argument {position}: TypeError: {exc}") from None


class AbstractSlide(metaclass=ABCMeta):
    """The base class of a slide object: the contract :class:`OpenSlide` and :class:`ImageSlide` share."""

    def __init__(self) -> None:
        self._profile: bytes | None = None

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]:  # fmt: skip
        self.close()
        return False

    @classmethod
    @abstractmethod
    def detect_format(cls, filename: Filename) -> str | None:
        """A string naming the file's format, or None when it is not recognised."""

    @abstractmethod
    def close(self) -> None:
        """Close the slide."""

    @property
    @abstractmethod
    def level_count(self) -> int:
        """The number of levels in the image."""

    @property
    @abstractmethod
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """(width, height) of each level."""

    @property
    def dimensions(self) -> tuple[int, int]:
        """(width, height) of level 0."""
        return self.level_dimensions[0]

    @property
    @abstractmethod
    def level_downsamples(self) -> tuple[float, ...]:
        """The downsample factor of each level."""

    @property
    @abstractmethod
    def properties(self) -> Mapping[str, str]:
        """Metadata about the image: property name -> value."""

    @property
    @abstractmethod
    def associated_images(self) -> Mapping[str, Image.Image]:
        """Label, macro, thumbnail...: name -> RGBA PIL image."""

    @property
    def color_profile(self) -> ImageCms.ImageCmsProfile | None:
        """The ICC profile of the slide's pixels, or None where the file has none."""
        if self._profile is None:
            return None
        return ImageCms.getOpenProfile(BytesIO(self._profile))

    @abstractmethod
    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The best level for displaying the given downsample."""

    @abstractmethod
    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> Image.Image:
        """An RGBA PIL image of ``size`` = (width, height) at ``level``, top left at level-0 ``location``."""

    def set_cache(self, cache: OpenSlideCache) -> None:  # noqa: B027 (a no-op unless overridden, as openslide's)
        """Use ``cache`` for decoded tiles (this class keeps none, so it does nothing)."""

    def get_thumbnail(self, size: tuple[int, int]) -> Image.Image:
        """An RGB thumbnail no larger than ``size``: the best level, on the background colour,
        Lanczos-reduced (openslide's recipe, so the pixels agree)."""
        downsample = max(dim / thumb for dim, thumb in zip(self.dimensions, size))
        level = self.get_best_level_for_downsample(downsample)
        tile = self.read_region((0, 0), level, self.level_dimensions[level])
        thumb = Image.new("RGB", tile.size, "#" + self.properties.get(PROPERTY_NAME_BACKGROUND_COLOR, "ffffff"))
        thumb.paste(tile, None, tile)
        thumb.thumbnail(size, Image.Resampling.LANCZOS)
        if self._profile is not None:
            thumb.info["icc_profile"] = self._profile
        return thumb


class OpenSlideCache:
    """A decoded-tile cache of ``capacity`` bytes, to share between slides with ``set_cache``."""

    def __init__(self, capacity: int) -> None:
        if not isinstance(capacity, int):
            raise _ArgumentTypeError("argument 1: TypeError: Incorrect type")
        if capacity < 0:
            raise _ArgumentValueError("argument 1: ValueError: Value out of range")
        self._capacity = capacity
        self.lru: LRU[Any, Any] = LRU(capacity)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._capacity!r})"


class _SlideMap(Mapping[str, _T]):
    """A read-only view of one slide's names, answering only while the slide is usable."""

    def __init__(self, slide: OpenSlide, keys: Callable[[], Mapping[str, object]], get: Callable[[str], _T]) -> None:
        self._slide, self._keys, self._get = slide, keys, get

    def __getitem__(self, key: str) -> _T:
        self._slide._live()
        if key not in self._keys():
            raise KeyError(key)
        return self._slide._guard(lambda: self._get(key))

    def __iter__(self) -> Iterator[str]:
        self._slide._live()
        return iter(self._keys())

    def __len__(self) -> int:
        self._slide._live()
        return len(self._keys())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict(self)!r}>"


class _PropertyMap(_SlideMap[str]):
    """openslide's ``properties``: vendor and ``openslide.*`` keys, read-only."""


class _AssociatedImageMap(_SlideMap[Image.Image]):
    """openslide's ``associated_images``: name -> RGBA PIL image, decoded on first use."""


class OpenSlide(AbstractSlide):
    """An open whole-slide image, read by ziggurat.

    Usable as a context manager. Latching errors as openslide's: once :class:`OpenSlideError` is
    raised by a read, every later operation but ``close`` raises it again.
    """

    def __init__(self, filename: Filename) -> None:
        super().__init__()
        self._filename = filename
        self._path = _fspath(filename)
        self._image: ZImage | None = _open(self._path)
        self._error: str | None = None
        self._profile = self._image.metadata.extra.get("icc_profile")
        self._props: dict[str, str | None] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._filename!r})"

    @classmethod
    def detect_format(cls, filename: Filename) -> str | None:
        """The slide's vendor (``aperio``, ``generic-tiff``, ...), or None if this class cannot open it."""
        path = _fspath(filename)
        try:
            with _open(path) as image:
                return image.format
        except OpenSlideError:
            return None

    # -- state ----------------------------------------------------------------------------------
    def _live(self) -> ZImage:
        """The Image, or openslide's error for a closed or latched handle."""
        if self._image is None:
            raise _closed()
        if self._error is not None:
            raise OpenSlideError(self._error)
        return self._image

    def _guard(self, read: Callable[[], _T]) -> _T:
        """Run a read; a failure latches the handle (openslide's semantics) and raises OpenSlideError."""
        try:
            return read()
        except ZigguratError as exc:
            self._error = str(exc)
            raise OpenSlideError(self._error) from exc

    @property
    def image(self) -> ZImage:
        """The ziggurat :class:`~ziggurat.model.image.Image` behind this slide (for ziggurat's own API)."""
        return self._live()

    def close(self) -> None:
        """Close the slide; a second close raises as openslide's does."""
        if self._image is None:
            raise _closed()
        self._image.close()
        self._image = None

    # -- the geometry ---------------------------------------------------------------------------
    @property
    def level_count(self) -> int:
        return self._live().level_count

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return self._live().level_dimensions

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return self._live().level_downsamples

    def get_best_level_for_downsample(self, downsample: float) -> int:
        if not isinstance(downsample, Real):
            raise _ArgumentTypeError("argument 2: TypeError: wrong type")
        return self._live().get_best_level_for_downsample(float(downsample))

    # -- metadata -------------------------------------------------------------------------------
    @property
    def properties(self) -> Mapping[str, str]:
        return _PropertyMap(self, self._properties, self._property)

    def _properties(self) -> dict[str, str | None]:
        """Every property name, its value (None: worked out on first use, an associated image's size)."""
        if self._props is None:
            image = self._live()
            props: dict[str, str | None] = dict(image.properties)
            props.pop("aperio.Header", None)  # ziggurat's own key; openslide has none
            if self._profile is not None:
                props["openslide.icc-size"] = str(len(self._profile))
            for name in image.associated_images:
                props[f"openslide.associated.{name}.height"] = props[f"openslide.associated.{name}.width"] = None
                profile = self._associated_profile(name)
                if profile is not None:
                    props[f"openslide.associated.{name}.icc-size"] = str(len(profile))
            self._props = dict(sorted(props.items()))
        return self._props

    def _property(self, key: str) -> str:
        value = self._properties()[key]
        if value is None:  # openslide.associated.NAME.width / .height: decode that image once
            name, _, side = key.removeprefix("openslide.associated.").rpartition(".")
            width, height = self.associated_images[name].size
            value = self._props[key] = str(width if side == "width" else height)  # type: ignore[index]
        return value

    @property
    def associated_images(self) -> Mapping[str, Image.Image]:
        return _AssociatedImageMap(self, lambda: dict.fromkeys(sorted(self._live().associated_images)),
                                   self._associated_image)  # fmt: skip

    def _associated_image(self, name: str) -> Image.Image:
        image = self._live()
        pil = Image.fromarray(_rgba8(_with_alpha(image.associated_images[name])), "RGBA")
        profile = self._associated_profile(name)
        if profile is not None:
            pil.info["icc_profile"] = profile
        return pil

    def _associated_profile(self, name: str) -> bytes | None:
        """An associated image's own ICC profile, else the slide's (as openslide gives Aperio thumbnails)."""
        own: bytes | None = self._live().metadata.extra.get("icc_profiles", {}).get(name)
        return self._profile if own is None or own == self._profile else own

    # -- pixels ---------------------------------------------------------------------------------
    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int], *,
                    as_array: bool = False) -> Any:  # fmt: skip
        """An RGBA PIL image (``as_array=True``: a ``(height, width, 4)`` uint8 array) of ``size`` =
        (width, height) pixels of ``level``, top left at level-0 ``location``; transparent outside."""
        image = self._live()
        _integers(3, location[0], location[1], level, size[0], size[1])  # openslide's argument numbers
        width, height = int(size[0]), int(size[1])
        if width < 0 or height < 0:
            raise OpenSlideError(f"negative width ({width}) or negative height ({height}) not allowed")
        if not 0 <= level < image.level_count or width == 0 or height == 0:
            rgba = np.zeros((height, width, 4), np.uint8)  # openslide: a missing level reads as transparent
        else:
            rgba = _rgba8(self._guard(lambda: image.read_region(
                (int(location[0]), int(location[1])), int(level), (width, height), rgba=True)))  # fmt: skip
        if as_array:
            return rgba
        region = Image.new("RGBA", (width, height)) if rgba.size == 0 else Image.fromarray(rgba, "RGBA")
        if self._profile is not None:
            region.info["icc_profile"] = self._profile
        return region

    def set_cache(self, cache: OpenSlideCache) -> None:
        """Keep this slide's decoded tiles in ``cache`` (shared by every slide given it)."""
        if not isinstance(cache, OpenSlideCache):
            raise TypeError("Not a cache object")
        image = self._live()
        if image.backend == "tiff":  # the backend that keeps decoded tiles in a given LRU
            self._image = open_image(self._path, "tiff", decoded_cache=cache.lru)
            image.close()


class ImageSlide(AbstractSlide):
    """A PIL image (or an image file PIL opens) behind the openslide interface: one level."""

    def __init__(self, file: Filename | Image.Image) -> None:
        super().__init__()
        self._file_arg = file
        self._image: Image.Image | None
        if isinstance(file, Image.Image):
            self._close, self._image = False, file
        else:
            self._close, self._image = True, Image.open(file)
        self._profile = self._image.info.get("icc_profile")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._file_arg!r})"

    @classmethod
    def detect_format(cls, filename: Filename) -> str | None:
        """PIL's name of the file's format, or None when PIL cannot open it."""
        try:
            with Image.open(filename) as img:
                return str(img.format)
        except OSError:
            return None

    def close(self) -> None:
        if self._close and self._image is not None:
            self._image.close()
            self._close = False
        self._image = None

    def _live(self) -> Image.Image:
        if self._image is None:
            raise ValueError("Cannot read from a closed slide")
        return self._image

    @property
    def level_count(self) -> Literal[1]:
        return 1

    @property
    def level_dimensions(self) -> tuple[tuple[int, int]]:
        return (self._live().size,)

    @property
    def level_downsamples(self) -> tuple[float]:
        return (1.0,)

    @property
    def properties(self) -> Mapping[str, str]:
        return {}

    @property
    def associated_images(self) -> Mapping[str, Image.Image]:
        return {}

    def get_best_level_for_downsample(self, _downsample: float) -> Literal[0]:
        return 0

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> Image.Image:
        """The region as RGBA, transparent where it lies outside the picture."""
        picture = self._live()
        if level != 0:
            raise OpenSlideError("Invalid level")
        if any(s < 0 for s in size):
            raise OpenSlideError(f"Size {size} must be non-negative")
        tile = Image.new("RGBA", size, (0, 0, 0, 0))
        (x, y), (width, height) = location, size
        left, top = max(x, 0), max(y, 0)
        right, bottom = min(x + width, picture.size[0]), min(y + height, picture.size[1])
        if right > left and bottom > top:
            tile.paste(picture.crop((left, top, right, bottom)), (left - x, top - y))
        if self._profile is not None:
            tile.info["icc_profile"] = self._profile
        return tile


def open_slide(filename: Filename) -> OpenSlide | ImageSlide:
    """An :class:`OpenSlide` for a whole-slide image, an :class:`ImageSlide` for a plain picture
    (a local file: on a URL, a format ziggurat does not read remotely stays an error saying so)."""
    try:
        return OpenSlide(filename)
    except OpenSlideUnsupportedFormatError:
        if isinstance(filename, (str, os.PathLike)) and is_url(filename):
            raise
        return ImageSlide(filename)


def _open(path: str) -> ZImage:
    """Open ``path`` as a 2-D slide, with openslide's error types and, for TIFF, a private
    decoded-tile cache (openslide's default too), sized by :func:`_cache_budget`."""
    try:
        image = _open_cached(path)
    except (ImageNotFoundError, UnsupportedFormatError) as exc:
        raise OpenSlideUnsupportedFormatError(f"Unsupported or missing image file: {exc}") from exc
    except ZigguratError as exc:
        raise OpenSlideError(str(exc)) from exc
    if image.axes != SLIDE_AXES or image.backend in PICTURE_BACKENDS:
        image.close()
        raise OpenSlideUnsupportedFormatError(f"Unsupported or missing image file: {path} is not a whole-slide image")
    return image


def _open_cached(path: str) -> ZImage:
    if detect(path) != "tiff":
        return open_image(path)
    cache: LRU[Any, Any] = LRU(MIN_CACHE_BYTES)
    try:
        image = open_image(path, "tiff", decoded_cache=cache)
    except (UnsupportedFormatError, CorruptImageError):  # a lower-ranked backend (openslide) may read it
        return open_image(path)
    cache.budget = _cache_budget(image)
    return image


def _cache_budget(image: ZImage) -> int:
    """Room for two rows of level 0's stored tiles (a row-by-row DeepZoom scan then decodes each
    stored tile once: a 254 px tile row straddles two stored rows), within [32 MB, 256 MB]."""
    level = image.levels[0]
    _, width, channels = level.shape
    tile_h, tile_w = level.tile_shape
    row = tile_h * -(-width // tile_w) * tile_w * channels * level.dtype.itemsize
    return min(max(MIN_CACHE_BYTES, 5 * row // 2), MAX_CACHE_BYTES)


def _with_alpha(array: np.ndarray) -> np.ndarray:
    """An (H, W, C) array with an opaque alpha channel appended."""
    top = np.iinfo(array.dtype).max if np.issubdtype(array.dtype, np.integer) else 1.0
    alpha = np.full((*array.shape[:2], 1), top, dtype=array.dtype)
    return np.concatenate([array, alpha], axis=-1)


def rgb8(array: np.ndarray) -> np.ndarray:
    """An (H, W, C) array of any channel count and dtype as 8-bit RGB (grey repeated, a missing
    third channel black, others dropped; wider types scaled to their range)."""
    colour = array[..., :3]
    if colour.shape[-1] == 1:
        colour = np.repeat(colour, 3, axis=-1)
    elif colour.shape[-1] == 2:
        colour = np.concatenate([colour, np.zeros_like(colour[..., :1])], axis=-1)
    if colour.dtype != np.uint8:
        top = np.iinfo(colour.dtype).max if np.issubdtype(colour.dtype, np.integer) else 1.0
        colour = (colour.astype(np.float32) * (255.0 / top)).clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(colour)


def _rgba8(array: np.ndarray) -> np.ndarray:
    """An (H, W, C + alpha) array as 8-bit RGBA: :func:`rgb8` colour, alpha 0 or 255."""
    if array.dtype == np.uint8 and array.shape[-1] == 4:
        return np.ascontiguousarray(array)
    alpha = np.where(array[..., -1:] > 0, 255, 0).astype(np.uint8)
    return np.concatenate([rgb8(array[..., :-1]), alpha], axis=-1)
