"""The one area resize: shrink an (H, W, ...) array to (height, width, ...) by exact area averaging.

Output pixel (i, j) is the mean of the input over the rectangle it covers, [i H/height, (i+1) H/height)
x [j W/width, (j+1) W/width), input pixels cut by an edge counted by the fraction inside. Integers
round half up like :func:`ziggurat.kernels.reduce.reduce2` (``(sum + n // 2) // n``) and floats
are averaged, so for integer ratios the result equals the block means exactly.

How it stays exact and fast: measure lengths in units of 1 / height of an input row, so every edge
``i * H`` falls on a whole unit and every weight is an integer. One axis at a time, the sum over
output interval i is ``height * (rows q_i .. q_{i+1} - 1 summed) + r_{i+1} * row q_{i+1} - r_i * row
q_i`` with ``q_i, r_i = divmod(i * H, height)``: one ``np.add.reduceat`` pass over the input plus
two row gathers per axis, integer arithmetic throughout (int64; float64 for floats and 64-bit
integers). The last division by ``H * W`` rounds once. Work is O(input) with no dense weight matrix.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedFormatError
from .reduce import round_half_up, wide_type


def resize_area(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """``array`` (H, W, ...) resized to (height, width, ...) by exact area averaging (same dtype).

    Meant for shrinking (thumbnails); enlarging works too (each output pixel then averages the at
    most two input pixels it overlaps). Returns ``array`` itself when the size already matches.
    """
    if height < 1 or width < 1:
        raise UnsupportedFormatError(f"cannot resize to {height} x {width}")
    h, w = array.shape[:2]
    if (h, w) == (height, width):
        return array
    if array.dtype.kind not in "iubf":
        raise UnsupportedFormatError(f"area resize of {array.dtype} pixels is not supported")
    exact = array.dtype.kind in "iub" and array.dtype.itemsize <= 4
    if exact:
        info = np.iinfo(array.dtype) if array.dtype.kind != "b" else np.iinfo(np.uint8)
        largest = max(abs(int(info.min)), int(info.max))
        acc_y, acc_x = _sum_type(largest * 2 * h), _sum_type(largest * 2 * h * 2 * w)
    else:
        acc_y = acc_x = np.dtype(np.float64)
    sums, unit_y = _interval_sums(array, height, 0, acc_y)  # (height, W, ...)
    sums, unit_x = _interval_sums(sums, width, 1, acc_x)  # (height, width, ...)
    n = unit_y * unit_x  # the area of one output pixel, in the units of ``sums``
    if exact:
        return round_half_up(sums, n, array.dtype)
    if array.dtype.kind == "f":
        return (sums / n).astype(array.dtype)
    return np.floor(sums / n + 0.5).astype(array.dtype)


def _sum_type(bound: int) -> np.dtype:
    """A signed integer type holding every value up to ``bound`` in magnitude."""
    return np.dtype(np.int32) if bound < 2**31 else np.dtype(np.int64)


def _interval_sums(array: np.ndarray, n_out: int, axis: int, acc: np.dtype) -> tuple[np.ndarray, int]:
    """Sums in ``acc`` over the n_out equal intervals of ``axis``, and the interval length in their units.

    Integer ratios sum whole blocks (one sample = one unit). Otherwise one sample is n_out units
    and interval i covers units [i * n_in, (i+1) * n_in): samples q_i .. q_{i+1} - 1 whole, minus
    the r_i units of sample q_i before its start, plus the r_{i+1} units of sample q_{i+1} before
    its end, where ``q_i, r_i = divmod(i * n_in, n_out)``.
    """
    n_in = array.shape[axis]
    if n_in == n_out:
        return array.astype(acc), 1
    if n_in % n_out == 0:  # integer ratio: whole blocks, no cut samples; strided slices beat a reshaped sum
        factor = n_in // n_out
        sums = _tap_sums(array, [slice(k, None, factor) for k in range(factor)], axis, acc)
        return sums.astype(acc, copy=False), factor
    q, r = np.divmod(np.arange(n_out + 1, dtype=np.int64) * n_in, n_out)
    lengths = np.diff(q)  # whole samples per interval: floor or ceil of the ratio (0 when enlarging)
    taps = int(lengths.max())
    # Tap k adds sample q_i + k to every interval i, so an interval one sample short also adds
    # sample q_{i+1} (the last interval: its own last sample again); the edge terms take it back.
    index = np.minimum(q[:-1] + np.arange(taps)[:, None], n_in - 1)  # (taps, n_out)
    sums = np.multiply(_tap_sums(array, list(index), axis, acc), n_out, dtype=acc)
    short = (lengths < taps) * n_out
    along = [1] * array.ndim
    along[axis] = n_out - 1

    def part(sl: slice) -> tuple[slice, ...]:
        return tuple(sl if i == axis else slice(None) for i in range(array.ndim))

    if n_out > 1:
        edge = np.take(array, q[1:-1], axis=axis)  # the sample each inner edge cuts
        term = np.multiply(edge, (r[1:-1] - short[:-1]).astype(acc).reshape(along), dtype=acc)
        sums[part(slice(None, -1))] += term  # interval before the edge: its part, less a double count
        np.multiply(edge, r[1:-1].astype(acc).reshape(along), out=term, dtype=acc)
        sums[part(slice(1, None))] -= term  # interval after it: counted it whole, less its part
    if short[-1]:
        last = np.take(array, [n_in - 1], axis=axis)
        sums[part(slice(-1, None))] -= np.multiply(last, n_out, dtype=acc)
    return sums, n_in


def _tap_sums(array: np.ndarray, taps: list[np.ndarray] | list[slice], axis: int, acc: np.dtype) -> np.ndarray:
    """The sum over taps of ``array`` indexed by the tap along ``axis``, in a type as narrow as is safe.

    A shrink by s has about s taps; together they read each input sample about once.
    """
    wide = acc
    if array.dtype.kind in "iub" and array.dtype.itemsize < acc.itemsize:
        wide = wide_type(array.dtype, max(len(taps), 2))
        wide = acc if wide.itemsize > acc.itemsize else wide

    def tap(k: int) -> np.ndarray:
        sel = taps[k]
        if isinstance(sel, slice):
            return array[tuple(sel if i == axis else slice(None) for i in range(array.ndim))]
        return np.take(array, sel, axis=axis)

    out = tap(0).astype(wide)
    for k in range(1, len(taps)):
        out += tap(k)
    return out


class StreamedResize:
    """:func:`resize_area` of an (H, W, ...) array fed as row strips, top to bottom, so a thumbnail
    of a level too large to hold is computed in memory of about one strip plus the output.

    Each strip is summed along x exactly as :func:`resize_area` does; a row then adds to the (at
    most two, when shrinking) output rows it overlaps, weighted by the overlap in units of 1 /
    ``height`` of a row. Integers whose sums fit in int64 give the same result as
    :func:`resize_area`; floats (and wider integers) agree to rounding.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, height: int, width: int) -> None:
        h, w = shape[:2]
        if not (1 <= height <= h and 1 <= width <= w):
            raise UnsupportedFormatError(f"a streamed resize shrinks: {h} x {w} cannot become {height} x {width}")
        if dtype.kind not in "iubf":
            raise UnsupportedFormatError(f"area resize of {dtype} pixels is not supported")
        info = np.iinfo(dtype) if dtype.kind in "iu" else None
        largest = max(abs(int(info.min)), int(info.max)) if info is not None else 1
        self._exact = dtype.kind in "iub" and largest * h * w * 4 < 2**62
        self._acc = np.dtype(np.int64) if self._exact else np.dtype(np.float64)
        # x sums of one strip stay as narrow as their bound allows (the bulk of the work)
        self._acc_x = _sum_type(largest * 2 * w) if self._exact else self._acc
        self._h, self._height, self._width, self._dtype = h, height, width, dtype
        self._sums = np.zeros((height, width, *shape[2:]), self._acc)
        self._unit_x = 1

    def add(self, y0: int, strip: np.ndarray) -> None:
        """Rows [y0, y0 + len(strip)) of the input."""
        # x as the first axis: its taps gather whole contiguous rows (about 2x faster than columns)
        across = np.ascontiguousarray(np.swapaxes(strip, 0, 1))
        sums, self._unit_x = _interval_sums(across, self._width, 0, self._acc_x)
        xs = np.swapaxes(sums, 0, 1).astype(self._acc)
        q = np.arange(y0, y0 + strip.shape[0], dtype=np.int64)
        h, height = self._h, self._height
        lo = (q * height) // h  # the output row each input row starts in
        w_lo = np.minimum((q + 1) * height, (lo + 1) * h) - q * height
        shape = (-1,) + (1,) * (xs.ndim - 1)
        np.add.at(self._sums, lo, xs * w_lo.astype(self._acc).reshape(shape))
        rest = w_lo < height
        if rest.any():
            w_hi = (height - w_lo[rest]).astype(self._acc).reshape(shape)
            np.add.at(self._sums, lo[rest] + 1, xs[rest] * w_hi)

    def result(self) -> np.ndarray:
        n = self._h * self._unit_x
        if self._exact:
            return round_half_up(self._sums, n, self._dtype)
        if self._dtype.kind == "f":
            return (self._sums / n).astype(self._dtype)
        rounded: np.ndarray = np.floor(self._sums / n + 0.5).astype(self._dtype)
        return rounded
