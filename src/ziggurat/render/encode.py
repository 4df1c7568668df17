"""Output encodings, a registry keyed by name with media types (as tiled keeps its serialisers).

Every codec is imagecodecs' (JPEG is libjpeg-turbo); ``npy`` is NumPy's file format and ``numpy``
hands the array back unencoded. Adding an encoding is one function and one registry line.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import imagecodecs
import numpy as np

from ..errors import EncodingError


@dataclass(frozen=True)
class Encoding:
    """A named output format: media type, file extension, and ``encode(array, quality)``."""

    name: str
    media_type: str
    extension: str
    encode: Callable[[np.ndarray, int], bytes | np.ndarray]
    lossy: bool = False


def _eight_bit(name: str, array: np.ndarray, channels: tuple[int, ...]) -> np.ndarray:
    if array.dtype != np.uint8:
        raise EncodingError(f"{name}: needs 8-bit pixels, got {array.dtype} (render with a style first)")
    if array.ndim == 3 and array.shape[2] not in channels:
        raise EncodingError(f"{name}: cannot encode {array.shape[2]} channels (allowed: {channels})")
    return array


def _jpeg(array: np.ndarray, quality: int) -> bytes:
    return cast(bytes, imagecodecs.jpeg8_encode(_eight_bit("jpeg", array, (1, 3)), level=quality))


def _webp(array: np.ndarray, quality: int) -> bytes:
    return cast(bytes, imagecodecs.webp_encode(_eight_bit("webp", array, (3, 4)), level=quality, lossless=False))


def _png(array: np.ndarray, quality: int) -> bytes:
    if array.dtype not in (np.uint8, np.uint16):
        raise EncodingError(f"png: needs 8- or 16-bit pixels, got {array.dtype}")
    return cast(bytes, imagecodecs.png_encode(array))


def _tiff(array: np.ndarray, quality: int) -> bytes:
    return cast(bytes, imagecodecs.tiff_encode(np.ascontiguousarray(array)))


def _npy(array: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _passthrough(array: np.ndarray, quality: int) -> np.ndarray:
    return array


ENCODINGS: dict[str, Encoding] = {
    e.name: e
    for e in (
        Encoding("jpeg", "image/jpeg", "jpg", _jpeg, lossy=True),
        Encoding("png", "image/png", "png", _png),
        Encoding("webp", "image/webp", "webp", _webp, lossy=True),
        Encoding("tiff", "image/tiff", "tif", _tiff),
        Encoding("npy", "application/x-npy", "npy", _npy),
        Encoding("numpy", "application/x-numpy-array", "", _passthrough),
    )
}
ALIASES = {"jpg": "jpeg", "tif": "tiff"}


def encoding_for(name: str) -> Encoding:
    """The registered encoding called ``name`` (or an alias: jpg, tif); EncodingError otherwise."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in ENCODINGS:
        raise EncodingError(f"encoding: unknown {name!r} (choose from {', '.join(ENCODINGS)})")
    return ENCODINGS[key]


def check_quality(quality: int) -> int:
    """Validate a 1..100 quality setting."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise EncodingError(f"quality: expected an integer 1..100, got {quality!r}")
    return int(quality)


def encode(array: np.ndarray, encoding: str = "jpeg", quality: int = 90) -> bytes | np.ndarray:
    """Encode an (h, w[, C]) array; ``numpy`` returns it unchanged."""
    return encoding_for(encoding).encode(array, check_quality(quality))
