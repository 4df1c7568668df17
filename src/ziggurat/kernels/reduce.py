"""The one 2x reduce: halve an N-D block along chosen axes by ``mean`` (intensities), ``mode`` (labels)
or ``nearest``.

Rules, the same for every caller (synthesized tile levels, DeepZoom, OME-Zarr pyramids, thumbnails):

- An odd extent repeats its last sample, so n samples reduce to ceil(n / 2) and a lone last sample
  is "averaged with itself" (every level size in ziggurat's pyramids is ceil(n / 2)).
- ``mean`` of integers rounds half up: ``(sum + n // 2) // n`` over the n = 2**len(axes) samples
  of a block (libvips' shrink rule; floor division, so negative values round half up too: the
  block [-1, -2, -3, -4] gives -2). The sums are taken in an integer type wide enough for them
  (:func:`sum2`), so nothing overflows or is lost. Floats are averaged in their own type.
- ``mode`` is the most frequent value of each block, the smallest one on ties.
- ``nearest`` keeps the first sample of each block.

:func:`sum2` (the block sums in the wide type, before rounding) is part of this kernel, and
:func:`sum2_bands` is :func:`sum2` of a stack of one or two 2-D planes over (z,) y and x, a band of
output rows at a time: the CT thumbnails window those integer sums through one lookup table while
the band is in cache, instead of rounding twice. A band whose values cannot overflow the input's
own unsigned type is summed in it (CT data is 12-bit: 8 x 4095 fits uint16), which halves the
memory traffic of a 16-bit stack.

Fast path, kept inside the kernel: halving an 8-bit (H, W, C) block with 3 or 4 channels over
(y, x) goes through Pillow's C ``Image.reduce(2)`` (modes RGB and RGBX; not RGBA, which Pillow
premultiplies by alpha), 1.5-3x faster than NumPy here. Its rounding is the rule above, odd edges
included; ``tests/test_kernels.py`` checks it against the NumPy path on random blocks of odd and
even sizes. One channel stays in NumPy, which is faster for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import UnsupportedFormatError

try:
    from PIL import Image as PILImage
except ImportError:  # pragma: no cover - Pillow is a dependency of the slide readers
    PILImage = None  # type: ignore[assignment]

METHODS = ("mean", "mode", "nearest")

#: Pillow modes for 8-bit (H, W, C) blocks whose ``reduce(2)`` rounds half up like :func:`reduce2`.
#: Not L: NumPy halves one channel faster than Pillow (measured 10 vs 16 ms for 4096 x 4096).
PIL_MODES = {3: "RGB", 4: "RGBX"}
PILLOW_BAND = 1 << 18  # pixels per Pillow call (measured best of 2**16 .. 2**20 on 4096 x 4096 RGB)
PILLOW_MIN_PIXELS = 4096  # below this, Pillow's per-call overhead loses to NumPy


def reduce2(block: np.ndarray, axes: Sequence[int], method: str = "mean") -> np.ndarray:
    """Halve ``block`` along ``axes`` (n -> ceil(n / 2)) with ``method``; other axes are left as they are."""
    axes = _normalize(axes, block.ndim)
    if method == "nearest":
        return block[tuple(slice(None, None, 2) if i in axes else slice(None) for i in range(block.ndim))]
    if method == "mean":
        return _mean(block, axes)
    if method == "mode":
        return _mode(_pad_even(block, axes), axes)
    raise UnsupportedFormatError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


def sum2(block: np.ndarray, axes: Sequence[int], dtype: np.dtype | type | None = None) -> np.ndarray:
    """Sums of each 2**len(axes) block of integer ``block`` (odd extents repeat their last sample).

    The sums are in ``dtype`` if given (the caller vouches that it holds them), else in the
    smallest integer type that holds 2**len(axes) values of ``block.dtype``.
    """
    axes = _normalize(axes, block.ndim)
    if block.dtype.kind not in "iub":
        raise UnsupportedFormatError(f"integer sums of {block.dtype} pixels are not supported")
    wide = np.dtype(dtype) if dtype is not None else wide_type(block.dtype, 2 ** len(axes))
    return _sums(block, axes, wide)


def _sums(block: np.ndarray, axes: tuple[int, ...], wide: np.dtype) -> np.ndarray:
    """Block sums in ``wide`` (any numeric type): pad odd extents, then add halves axis by axis."""
    block = _pad_even(block, axes)
    if not axes:
        return block.astype(wide)
    first, *rest = axes
    a, b = _halves(block, first)
    acc: np.ndarray = np.add(a, b, dtype=wide)
    for axis in rest:
        a, b = _halves(acc, axis)
        acc = a + b
    return acc


BAND_ROWS = 64  # input rows per band of sum2_bands (measured: 16-128 rows of 2800 x uint16; 64 best)


def sum2_bands(
    planes: Sequence[np.ndarray], dtype: np.dtype | type | None = None, rows: int = BAND_ROWS
) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`sum2` of ``np.stack(planes)`` over (z, y, x) (two planes) or of ``planes[0]`` over (y, x)
    (one plane), without stacking, one band of output rows at a time.

    Yields (first output row, sums of that band). The sums are in ``dtype`` (default: the wide
    type of :func:`sum2`), or in the planes' own unsigned type where the band's maxima show that
    it holds them. Odd extents repeat their last sample, as everywhere in this module.
    """
    first = planes[0]
    if not 1 <= len(planes) <= 2 or first.ndim != 2 or any(p.shape != first.shape for p in planes):
        raise UnsupportedFormatError("sum2_bands takes one or two 2-D planes of one shape")
    if first.dtype.kind not in "iubf":
        raise UnsupportedFormatError(f"sums of {first.dtype} pixels are not supported")
    per_plane = 4  # samples each output takes from each plane (2 x 2)
    wide = np.dtype(dtype) if dtype is not None else wide_type(first.dtype, per_plane * len(planes))
    narrow = first.dtype if first.dtype.kind == "u" and first.dtype.itemsize < wide.itemsize else None
    h, w = first.shape
    even_w = w - w % 2
    rows = max(2, rows - rows % 2)
    for y in range(0, h, rows):
        bands = [p[y : y + rows] for p in planes]
        kind = wide
        if narrow is not None and per_plane * sum(int(b.max()) for b in bands) <= np.iinfo(narrow).max:
            kind = narrow
        plane_sum = np.add(bands[0], bands[1], dtype=kind) if len(bands) == 2 else bands[0]
        n = plane_sum.shape[0]
        row_sum = np.add(plane_sum[0 : n - 1 : 2], plane_sum[1::2], dtype=kind)
        if n % 2:  # the last row of an odd height pairs with itself
            row_sum = np.concatenate([row_sum, np.multiply(plane_sum[-1:], 2, dtype=kind)])
        sums = np.empty((row_sum.shape[0], (w + 1) // 2), kind)
        np.add(row_sum[:, 0:even_w:2], row_sum[:, 1:even_w:2], out=sums[:, : even_w // 2])
        if w % 2:
            np.multiply(row_sum[:, -1], 2, out=sums[:, -1])
        yield y // 2, sums


def wide_type(dtype: np.dtype, n: int) -> np.dtype:
    """The smallest integer type that holds the sum of n values of integer ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        dtype = np.dtype(np.uint8)
    info = np.iinfo(dtype)
    candidates = (np.uint16, np.uint32, np.uint64) if info.min == 0 else (np.int16, np.int32, np.int64)
    for candidate in candidates:
        wide = np.iinfo(candidate)
        if wide.bits > info.bits and info.max * n <= wide.max and info.min * n >= wide.min:
            return np.dtype(candidate)
    raise UnsupportedFormatError(f"sums of {n} {dtype} values do not fit a 64-bit integer")


def round_half_up(sums: np.ndarray, n: int, dtype: np.dtype) -> np.ndarray:
    """``(sums + n // 2) // n`` as ``dtype``: the mean of n integers, half up (negatives too)."""
    sums += n // 2
    sums //= n
    return sums.astype(dtype)


def _normalize(axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    """``axes`` as sorted, distinct, non-negative axis numbers."""
    bad = [a for a in axes if not -ndim <= a < ndim]
    if bad:
        raise UnsupportedFormatError(f"axes {bad} are out of range for a {ndim}-D block")
    return tuple(sorted({a % ndim for a in axes}))


def _pad_even(block: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    odd = [(0, 1) if i in axes and block.shape[i] % 2 else (0, 0) for i in range(block.ndim)]
    return np.pad(block, odd, mode="edge") if any(p[1] for p in odd) else block


def _halves(block: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    even = [slice(None)] * block.ndim
    odd = [slice(None)] * block.ndim
    even[axis], odd[axis] = slice(0, None, 2), slice(1, None, 2)
    return block[tuple(even)], block[tuple(odd)]


def _mean(block: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    if _pillow_ok(block, axes):
        return _mean_pillow(block)
    return _mean_numpy(block, axes)


def _mean_numpy(block: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """:func:`reduce2` ``mean`` in NumPy (the reference the fast path is tested against)."""
    n = 2 ** len(axes)
    if block.dtype.kind == "f":
        mean: np.ndarray = (_sums(block, axes, block.dtype) * (1.0 / n)).astype(block.dtype)
        return mean
    if block.dtype.kind not in "iub":
        raise UnsupportedFormatError(f"mean of {block.dtype} pixels is not supported")
    if block.dtype.itemsize == 8:  # no wider integer type: float64, exact below 2**53 / n
        rounded: np.ndarray = np.floor(_sums(block, axes, np.dtype(np.float64)) / n + 0.5).astype(block.dtype)
        return rounded
    return round_half_up(sum2(block, axes), n, block.dtype)


def _pillow_ok(block: np.ndarray, axes: tuple[int, ...]) -> bool:
    return (
        PILImage is not None
        and block.dtype == np.uint8
        and block.ndim == 3
        and axes == (0, 1)
        and block.shape[2] in PIL_MODES
        and block.shape[0] * block.shape[1] >= PILLOW_MIN_PIXELS
    )


def _mean_pillow(block: np.ndarray) -> np.ndarray:
    """:func:`reduce2` ``mean`` of an 8-bit (H, W, C) block over (y, x) by Pillow's ``reduce(2)``,
    a band of rows at a time so Pillow's working copies stay in cache."""
    h, w, channels = block.shape
    mode = PIL_MODES[channels]
    out = np.empty(((h + 1) // 2, (w + 1) // 2, channels), block.dtype)
    band = max(2, PILLOW_BAND // w // 2 * 2)  # even, so bands halve independently
    for y in range(0, h, band):
        rows = np.ascontiguousarray(block[y : y + band])
        image = PILImage.frombuffer(mode, (w, rows.shape[0]), rows, "raw", mode, 0, 1)
        reduced = np.asarray(image.reduce(2))
        out[y // 2 : y // 2 + reduced.shape[0]] = reduced.reshape(reduced.shape[0], -1, channels)
    return out


def _mode(block: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Most frequent value per 2^k block (smallest on ties): sort the k-cube's samples, count equals."""
    samples = [block]
    for axis in axes:
        samples = [half for s in samples for half in _halves(s, axis)]
    stacked = np.sort(np.stack(samples, axis=-1), axis=-1)  # (..., n) sorted per output voxel
    n = stacked.shape[-1]
    counts = np.zeros(stacked.shape, np.uint8)
    for j in range(n):
        counts += stacked == stacked[..., j : j + 1]
    best = counts.argmax(axis=-1)[..., None]  # first maximum: the smallest of the tied values
    out: np.ndarray = np.take_along_axis(stacked, best, axis=-1)[..., 0]
    return out
