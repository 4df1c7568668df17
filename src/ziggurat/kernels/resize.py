"""Area-averaging resize and 2x downsampling: the kernels thumbnails and pyramids share."""

from __future__ import annotations

import numpy as np


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix whose rows average the input cells each output cell covers."""
    scale = n_in / n_out
    edges = np.arange(n_out + 1) * scale
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0, None)
    return (overlap / scale).astype(np.float32)


def downsample2(array: np.ndarray) -> np.ndarray:
    """Halve an (H, W, ...) array by 2x2 area averaging; an odd last row/column is averaged alone."""
    h, w = array.shape[:2]
    work = array.astype(np.float32)
    if h % 2:
        work = np.concatenate([work, work[-1:]], axis=0)
    if w % 2:
        work = np.concatenate([work, work[:, -1:]], axis=1)
    out = (work[0::2, 0::2] + work[1::2, 0::2] + work[0::2, 1::2] + work[1::2, 1::2]) * 0.25
    return _cast(out, array.dtype)


def resize_area(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Shrink an (H, W, C) array to (height, width) by exact area averaging."""
    h, w = array.shape[:2]
    if (h, w) == (height, width):
        return array
    work = array
    # integer block means first keep the dense weight matrices small
    fy, fx = max(1, h // (2 * height)), max(1, w // (2 * width))
    if fy > 1 or fx > 1:
        hh, ww = (h // fy) * fy, (w // fx) * fx
        work = work[:hh, :ww].astype(np.float32)
        work = work.reshape(hh // fy, fy, ww // fx, fx, -1).mean(axis=(1, 3))
    wy = _area_weights(work.shape[0], height)
    wx = _area_weights(work.shape[1], width)
    flat = work.reshape(work.shape[0], work.shape[1], -1).astype(np.float32)
    out = np.einsum("ij,jkc->ikc", wy, flat)
    out = np.einsum("lk,ikc->ilc", wx, out)
    return _cast(out.reshape(height, width, *array.shape[2:]), array.dtype)


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)
