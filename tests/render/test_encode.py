"""Encodings decode back (with imagecodecs / NumPy) to the pixels that went in."""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
import pytest

from ziggurat.errors import EncodingError
from ziggurat.render.encode import encode, encoding_for


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    y, x = np.mgrid[0:64, 0:96]
    return np.stack([x * 2, y * 3, (x + y) % 256], axis=-1).astype(np.uint8)


@pytest.mark.parametrize(("name", "decode"), [("png", imagecodecs.png_decode), ("tiff", imagecodecs.tiff_decode)])
def test_lossless_round_trip(rgb: np.ndarray, name: str, decode: object) -> None:
    np.testing.assert_array_equal(decode(encode(rgb, name)), rgb)  # type: ignore[operator]


def test_png_keeps_16_bit() -> None:
    arr = (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8)
    np.testing.assert_array_equal(imagecodecs.png_decode(encode(arr, "png")), arr)


def test_npy_and_numpy(rgb: np.ndarray) -> None:
    np.testing.assert_array_equal(np.load(io.BytesIO(encode(rgb, "npy"))), rgb)
    assert encode(rgb, "numpy") is rgb


@pytest.mark.parametrize(("name", "magic"), [("jpeg", b"\xff\xd8\xff"), ("webp", b"RIFF")])
def test_lossy_close_and_quality_matters(rgb: np.ndarray, name: str, magic: bytes) -> None:
    high, low = encode(rgb, name, quality=95), encode(rgb, name, quality=20)
    assert high[:4].startswith(magic) and len(low) < len(high)
    decoded = imagecodecs.imread(high)
    assert np.abs(decoded.astype(int) - rgb).mean() < 4


def test_registry_and_errors(rgb: np.ndarray) -> None:
    assert encoding_for("JPG").media_type == "image/jpeg"
    assert encoding_for("tif").name == "tiff"
    with pytest.raises(EncodingError, match="unknown 'gif'"):
        encode(rgb, "gif")
    with pytest.raises(EncodingError, match="quality"):
        encode(rgb, "jpeg", quality=0)
    with pytest.raises(EncodingError, match="8-bit"):
        encode(rgb.astype(np.uint16), "jpeg")
