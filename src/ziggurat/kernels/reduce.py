"""Reduce an N-D block by 2 along chosen axes: ``mean`` (intensities), ``mode`` (labels), ``nearest``.

All three are vectorised NumPy. An odd extent is padded by repeating its last element, so n
samples reduce to ceil(n / 2) and a lone last sample is "averaged with itself" (the rule of
:func:`ziggurat.kernels.resize.downsample2` and of every level size in ziggurat's pyramids).
``mean`` of integers sums in a wider integer type and rounds half up; floats are averaged.
``mode`` picks the most frequent value of each 2x2(x2) block, the smallest one on ties.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import UnsupportedFormatError

METHODS = ("mean", "mode", "nearest")


def reduce2(block: np.ndarray, axes: Sequence[int], method: str = "mean") -> np.ndarray:
    """Halve ``block`` along ``axes`` with ``method``; other axes are left as they are."""
    if method == "nearest":
        return block[tuple(slice(None, None, 2) if i in axes else slice(None) for i in range(block.ndim))]
    block = _pad_even(block, axes)
    if method == "mean":
        return _mean(block, axes)
    if method == "mode":
        return _mode(block, axes)
    raise UnsupportedFormatError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


def _pad_even(block: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    odd = [(0, 1) if i in axes and block.shape[i] % 2 else (0, 0) for i in range(block.ndim)]
    return np.pad(block, odd, mode="edge") if any(p[1] for p in odd) else block


def _halves(block: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    even = [slice(None)] * block.ndim
    odd = [slice(None)] * block.ndim
    even[axis], odd[axis] = slice(0, None, 2), slice(1, None, 2)
    return block[tuple(even)], block[tuple(odd)]


def _wide(dtype: np.dtype, n: int) -> np.dtype:
    """The smallest integer type that holds the sum of n values of ``dtype``."""
    info = np.iinfo(dtype)
    for candidate in (np.uint16, np.uint32, np.uint64) if info.min == 0 else (np.int16, np.int32, np.int64):
        wide = np.iinfo(candidate)
        if wide.bits > info.bits and info.max * n <= wide.max and info.min * n >= wide.min:
            return np.dtype(candidate)
    return np.dtype(np.float64)


def _mean(block: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    n = 2 ** len(axes)
    if block.dtype.kind == "f":
        acc = block
        for axis in axes:
            a, b = _halves(acc, axis)
            acc = a + b
        return (acc * (1.0 / n)).astype(block.dtype)
    if block.dtype.kind not in "iub":
        raise UnsupportedFormatError(f"mean of {block.dtype} pixels is not supported")
    wide = _wide(block.dtype, n) if block.dtype.kind != "b" else np.dtype(np.uint8)
    first, *rest = axes
    a, b = _halves(block, first)
    acc = a.astype(wide)
    acc += b
    for axis in rest:
        a, b = _halves(acc, axis)
        acc = a + b
    if wide.kind == "f":
        return np.floor(acc / n + 0.5).astype(block.dtype)
    acc += n // 2
    acc //= n  # floor division: (sum + n/2) // n rounds half up, negatives included
    return acc.astype(block.dtype)


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
    return np.take_along_axis(stacked, best, axis=-1)[..., 0]
