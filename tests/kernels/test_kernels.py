"""The one 2x reduce and the one area resize against hand-computed values and independent references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ziggurat.errors import UnsupportedFormatError
from ziggurat.kernels import METHODS, reduce2, resize_area, sum2, sum2_bands
from ziggurat.kernels import reduce as reduce_module

# -- reduce2: hand-computed values ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.uint32, np.int64])
def test_mean_of_1_2_3_4_is_3(dtype: type) -> None:
    block = np.array([[1, 2], [3, 4]], dtype)  # 2.5 rounds half up
    out = reduce2(block, (0, 1))
    assert out.dtype == dtype and out.tolist() == [[3]]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_negative_means_round_half_up(dtype: type) -> None:
    assert reduce2(np.array([[-1, -2], [-3, -4]], dtype), (0, 1)).tolist() == [[-2]]  # -2.5 -> -2
    assert reduce2(np.array([[-1, -2], [-3, -3]], dtype), (0, 1)).tolist() == [[-2]]  # -2.25 -> -2
    assert reduce2(np.array([-1, -2, 5, 6], dtype), (0,)).tolist() == [-1, 6]  # -1.5 -> -1, 5.5 -> 6


def test_negative_half_up_is_floor_of_mean_plus_half() -> None:
    # -2.5 exactly: [-1, -3, -3, -3] sums to -10; (-10 + 2) // 4 = -2
    assert reduce2(np.array([[-1, -3], [-3, -3]], np.int16), (0, 1)).tolist() == [[-2]]


def test_no_overflow_at_the_top_of_the_type() -> None:
    assert reduce2(np.full((2, 2), 255, np.uint8), (0, 1)).tolist() == [[255]]
    assert reduce2(np.full((2, 2, 2), 65535, np.uint16), (0, 1, 2)).tolist() == [[[65535]]]
    assert reduce2(np.array([[-32768, -32768], [-32768, -32767]], np.int16), (0, 1)).tolist() == [[-32768]]


def test_odd_extents_repeat_the_last_sample() -> None:
    assert reduce2(np.array([1, 2, 3], np.uint8), (0,)).tolist() == [2, 3]  # (1+2)/2=1.5->2, (3+3)/2
    block = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.uint8)
    # blocks: [1,2,4,5]=3, [3,3,6,6]=4.5->5, [7,8,7,8]=7.5->8, [9,9,9,9]=9
    assert reduce2(block, (0, 1)).tolist() == [[3, 5], [8, 9]]
    assert reduce2(block, (1,)).tolist() == [[2, 3], [5, 6], [8, 9]]  # 1.5->2, 3, 4.5->5, 6, 7.5->8, 9
    assert reduce2(np.zeros((5, 7, 3), np.uint8), (0, 1)).shape == (3, 4, 3)


def test_floats_are_averaged() -> None:
    out = reduce2(np.array([[1, 2], [3, 4]], np.float32), (0, 1))
    assert out.dtype == np.float32 and out.tolist() == [[2.5]]
    assert reduce2(np.array([0.5, 1.0, 7.0], np.float64), (0,)).tolist() == [0.75, 7.0]


def test_only_the_given_axes_are_halved() -> None:
    block = np.arange(2 * 4 * 3, dtype=np.uint16).reshape(2, 4, 3)
    out = reduce2(block, (1,))
    assert out.shape == (2, 2, 3)
    assert out[1, 1].tolist() == [(block[1, 2, c] + block[1, 3, c] + 1) // 2 for c in range(3)]
    assert reduce2(block, (-2,)).tolist() == out.tolist()  # negative axes


def test_3d_mean_over_2x2x2() -> None:
    block = np.array([[[1, 2], [3, 4]], [[5, 6], [7, 9]]], np.uint8)  # sum 37 / 8 = 4.625 -> 5
    assert reduce2(block, (0, 1, 2)).tolist() == [[[5]]]
    assert sum2(block, (0, 1, 2)).tolist() == [[[37]]]


def test_sum2_is_the_padded_block_sum_in_a_wide_type() -> None:
    block = np.array([[250, 251, 252]], np.uint8)
    sums = sum2(block, (0, 1))
    assert sums.dtype == np.uint16 and sums.tolist() == [[250 + 251 + 250 + 251, 4 * 252]]
    assert sum2(block, (0, 1), np.uint32).dtype == np.uint32
    assert sum2(np.array([[-5, 1]], np.int8), (1,)).tolist() == [[-4]]
    with pytest.raises(UnsupportedFormatError):
        sum2(np.zeros((2, 2), np.float32), (0, 1))


def test_mode_picks_the_most_frequent_smallest_on_ties() -> None:
    assert reduce2(np.array([[1, 2], [2, 1]], np.uint8), (0, 1), "mode").tolist() == [[1]]  # tie 1/2
    assert reduce2(np.array([[3, 3], [1, 2]], np.uint8), (0, 1), "mode").tolist() == [[3]]
    assert reduce2(np.array([[9, 4], [7, 5]], np.int32), (0, 1), "mode").tolist() == [[4]]  # all tie
    labels = np.array([[[5, 5], [2, 2]], [[2, 7], [7, 7]]], np.uint16)  # 5:2, 2:3, 7:3 -> 2
    assert reduce2(labels, (0, 1, 2), "mode").tolist() == [[[2]]]
    # odd extent: [4, 6, 6] is padded to [4, 6, 6, 6]; the tie in [4, 6] goes to 4
    assert reduce2(np.array([4, 6, 6], np.uint8), (0,), "mode").tolist() == [4, 6]


def test_nearest_keeps_the_first_sample() -> None:
    block = np.arange(15, dtype=np.uint8).reshape(3, 5)
    assert reduce2(block, (0, 1), "nearest").tolist() == [[0, 2, 4], [10, 12, 14]]


def test_methods_and_errors() -> None:
    assert METHODS == ("mean", "mode", "nearest")
    with pytest.raises(UnsupportedFormatError):
        reduce2(np.zeros((2, 2), np.uint8), (0, 1), "median")
    with pytest.raises(UnsupportedFormatError):
        reduce2(np.zeros((2, 2), np.uint8), (2,))
    with pytest.raises(UnsupportedFormatError):
        reduce2(np.zeros((2, 2), np.complex64), (0,))


# -- reduce2: the Pillow fast path is the NumPy path --------------------------------------------


def _independent_mean(block: np.ndarray) -> np.ndarray:
    """2x2 means over (y, x), odd edges repeated, half up: Python ints, no ziggurat code."""
    h, w = block.shape[:2]
    p = np.pad(block.astype(np.int64), ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2] + 2) // 4


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_fast_path_equals_numpy_path_on_random_blocks(channels: int) -> None:
    pytest.importorskip("PIL")
    rng = np.random.default_rng(channels)
    shapes = [(64, 64), (65, 64), (64, 67), (99, 101), (1, 5000), (2, 4097), (5000, 1), (300, 1025)]
    shapes += [tuple(int(v) for v in rng.integers(1, 700, 2)) for _ in range(12)]
    used_pillow = 0
    for h, w in shapes:
        block = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        expected = _independent_mean(block)
        numpy_path = reduce_module._mean_numpy(block, (0, 1))
        assert (numpy_path == expected).all(), (h, w)
        if channels in reduce_module.PIL_MODES:
            assert (reduce_module._mean_pillow(block) == expected).all(), (h, w)
        used_pillow += reduce_module._pillow_ok(block, (0, 1))
        assert (reduce2(block, (0, 1)) == expected).all(), (h, w)
    assert used_pillow == (len([s for s in shapes if s[0] * s[1] >= 4096]) if channels != 1 else 0)


def test_fast_path_takes_views_and_extreme_values() -> None:
    pytest.importorskip("PIL")
    base = np.random.default_rng(5).integers(0, 256, (301, 403, 3), dtype=np.uint8)
    view = base[7:, 3:-2]  # not contiguous
    assert (reduce2(view, (0, 1)) == _independent_mean(view)).all()
    extremes = np.where(base > 127, 255, 0).astype(np.uint8)
    assert (reduce2(extremes, (0, 1)) == _independent_mean(extremes)).all()


# -- resize_area: exact area means --------------------------------------------------------------


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) overlaps in units of 1 / n_out of an input sample (all integers)."""
    i = np.arange(n_out)[:, None]
    k = np.arange(n_in)[None, :]
    return np.clip(np.minimum((i + 1) * n_in, (k + 1) * n_out) - np.maximum(i * n_in, k * n_out), 0, None)


def _dense_reference(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Exact area means by dense integer weight matrices (a different algorithm), rounded half up.

    int64 holds every sum here: |value| < 2**31 times h * w units (inputs up to 30 x 30, or small crops).
    """
    h, w = a.shape[:2]
    flat = a.reshape(h, w, -1).astype(np.int64)
    sums = np.einsum("ij,jkc,lk->ilc", _area_weights(h, height), flat, _area_weights(w, width), optimize=True)
    n = h * w
    return ((sums + n // 2) // n).reshape(height, width, *a.shape[2:])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32])
def test_resize_equals_dense_exact_reference(dtype: type) -> None:
    rng = np.random.default_rng(np.dtype(dtype).itemsize)
    info = np.iinfo(dtype)
    for trial in range(40):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        shape = (h, w) if trial % 3 == 0 else (h, w, int(rng.integers(1, 5)))
        a = rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)
        got = resize_area(a, height, width)
        assert got.dtype == dtype and got.shape == (height, width, *shape[2:])
        np.testing.assert_array_equal(got, _dense_reference(a, height, width), err_msg=str((shape, height, width)))


def test_resize_of_floats_is_the_float_area_mean() -> None:
    rng = np.random.default_rng(9)
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        height, width = (int(v) for v in rng.integers(1, 30, 2))
        a = rng.normal(size=(h, w, 2)).astype(np.float32)
        wy = _area_weights(h, height) / h
        wx = _area_weights(w, width) / w
        want = np.einsum("ij,jkc,lk->ilc", wy, a.astype(np.float64), wx)
        got = resize_area(a, height, width)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_integer_ratios_are_block_means() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (60, 84, 3), dtype=np.uint8)
    for f in (2, 3, 4, 6, 12):
        blocks = a.reshape(60 // f, f, 84 // f, f, 3).astype(np.int64).sum(axis=(1, 3))
        want = (blocks + f * f // 2) // (f * f)
        np.testing.assert_array_equal(resize_area(a, 60 // f, 84 // f), want)
    # an integer ratio on one axis only
    sums = a.reshape(20, 3, 84, 3).astype(np.int64).sum(axis=1)  # 60 -> 20 in y, 84 kept
    np.testing.assert_array_equal(resize_area(a, 20, 84), (sums + 1) // 3)


def test_hand_computed_fractional_resize() -> None:
    # 3 -> 2: output 0 covers sample 0 and half of sample 1, output 1 the other half and sample 2
    a = np.array([[10, 20, 40]], np.uint8)
    # (10 + 10) / 1.5 = 13.33 -> 13; (10 + 40) / 1.5 = 33.33 -> 33
    assert resize_area(a, 1, 2).tolist() == [[13, 33]]
    b = np.array([[0, 3, 0]], np.uint8)  # (0 + 1.5) / 1.5 = 1 each
    assert resize_area(b, 1, 2).tolist() == [[1, 1]]
    c = np.array([[0, 1, 2, 3, 4]], np.uint8)  # 5 -> 2: (0 + 1 + 1) / 2.5 = 0.8 -> 1; (1 + 3 + 4) / 2.5 = 3.2
    assert resize_area(c, 1, 2).tolist() == [[1, 3]]


def test_resize_same_size_and_errors() -> None:
    a = np.zeros((4, 5, 3), np.uint8)
    assert resize_area(a, 4, 5) is a
    with pytest.raises(UnsupportedFormatError):
        resize_area(a, 0, 5)
    with pytest.raises(UnsupportedFormatError):
        resize_area(a.astype(np.complex64), 2, 2)


def test_resize_of_a_large_uint16_level_does_not_overflow() -> None:
    a = np.full((4099, 3001), 65535, np.uint16)
    assert (resize_area(a, 1000, 731) == 65535).all()
    b = np.full((4099, 3001, 3), 255, np.uint8)
    b[:, :1500] = 0
    out = resize_area(b, 3, 2)  # column 0 covers x in [0, 1500.5): the last half sample is 255
    assert out[:, 0].tolist() == [[round(255 * 0.5 / 1500.5)] * 3] * 3 and (out[:, 1] == 255).all()


# -- sum2_bands: sum2 of one or two planes, band by band ----------------------------------------


def test_sum2_bands_equals_sum2_of_the_stack() -> None:
    rng = np.random.default_rng(11)
    for trial in range(120):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        count, rows = int(rng.integers(1, 3)), int(rng.integers(1, 9))
        dtype = (np.uint8, np.uint16, np.int16)[trial % 3]
        high = 65536 if dtype == np.uint16 and trial % 2 else 4096 if dtype != np.uint8 else 256
        planes = [rng.integers(-4096 if dtype == np.int16 else 0, high, (h, w)).astype(dtype) for _ in range(count)]
        stack = np.pad(np.stack(planes).astype(np.int64), ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
        want = stack.reshape(count, (h + 1) // 2, 2, (w + 1) // 2, 2).sum(axis=(0, 2, 4))  # independent
        assert (
            sum2(np.stack(planes), (0, 1, 2))[0] if count == 2 else sum2(planes[0], (0, 1))
        ).tolist() == want.tolist()
        got = np.zeros_like(want)
        seen = 0
        for y, sums in sum2_bands(planes, rows=rows):
            assert y == seen
            got[y : y + sums.shape[0]] = sums
            seen += sums.shape[0]
        assert seen == want.shape[0]
        np.testing.assert_array_equal(got, want, err_msg=str((h, w, count, rows, dtype)))


def test_sum2_bands_narrow_type_only_where_it_holds_the_sums() -> None:
    plane = np.full((4, 6), 8191, np.uint16)  # rows 0-1: 8 x 8191 = 65528 fits 16 bits
    plane[2:] = 8192  # rows 2-3: 8 x 8192 = 65536 does not
    bands = [(y, sums.dtype, sums.tolist()) for y, sums in sum2_bands([plane, plane], np.uint32, rows=2)]
    assert bands == [(0, np.uint16, [[65528] * 3]), (1, np.uint32, [[65536] * 3])]
    with pytest.raises(UnsupportedFormatError):
        next(sum2_bands([plane, plane[:2]]))


# -- realdata: the area resize on a real slide -------------------------------------------------


def test_real_slide_thumbnail_is_the_exact_area_mean(realdata: Path) -> None:
    """get_thumbnail of a real one-level SVS: the exact area mean of the pixels tifffile decodes
    (on a crop, against the dense reference), and within a few grey levels of openslide's."""
    import tifffile

    import ziggurat

    path = realdata / "svs" / "CMU-1-Small-Region.svs"
    pixels = tifffile.imread(path, key=0)  # the anchor decoder's level-0 pixels
    crop = pixels[100:317, 200:511]
    np.testing.assert_array_equal(resize_area(crop, 50, 71), _dense_reference(crop, 50, 71))
    with ziggurat.open(path) as image:
        thumb = image.get_thumbnail((512, 512))
    np.testing.assert_array_equal(thumb, resize_area(pixels, *thumb.shape[:2]))
    openslide = pytest.importorskip("openslide")
    theirs = np.asarray(openslide.OpenSlide(path).get_thumbnail((512, 512)).convert("RGB"))
    assert theirs.shape == thumb.shape
    assert np.abs(theirs.astype(int) - thumb).mean() < 4  # Lanczos vs area mean
