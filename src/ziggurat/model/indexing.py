"""NumPy-style basic indexing for lazy arrays (slide levels and volume levels alike)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import OutOfRangeError


def expand_key(key: Any, ndim: int) -> tuple:
    """A full ``ndim``-long key: a lone index becomes a tuple, ``...`` and missing axes become ``:``."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (ndim - len(key) + 1) + key[i + 1 :]
    if len(key) > ndim:
        raise OutOfRangeError(f"too many indices for a {ndim}-D array: {key!r}")
    return key + (slice(None),) * (ndim - len(key))


def span(key: Any, length: int) -> tuple[tuple[int, int, int], bool]:
    """(start, stop, step) of an int or slice within [0, length], and whether to squeeze the axis."""
    if isinstance(key, (int, np.integer)):
        i = int(key) + length if key < 0 else int(key)
        if not 0 <= i < length:
            raise OutOfRangeError(f"index {int(key)} out of range for axis of length {length}")
        return (i, i + 1, 1), True
    if isinstance(key, slice):
        start, stop, step = key.indices(length)
        if step < 1:
            raise OutOfRangeError("lazy arrays support only positive slice steps")
        return (start, max(start, stop), step), False
    raise OutOfRangeError(f"unsupported index {key!r}: use ints and slices")
