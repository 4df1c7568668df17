"""NumPy-style basic indexing for lazy arrays (slide levels and volume levels alike)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import OutOfRangeError


def expand_key(key: Any, ndim: int) -> tuple[Any, ...]:
    """A full ``ndim``-long key: a lone index becomes a tuple, ``...`` and missing axes become ``:``."""
    parts: tuple[Any, ...] = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in parts):
        i = parts.index(Ellipsis)
        parts = parts[:i] + (slice(None),) * (ndim - len(parts) + 1) + parts[i + 1 :]
    if len(parts) > ndim:
        raise OutOfRangeError(f"too many indices for a {ndim}-D array: {parts!r}")
    return parts + (slice(None),) * (ndim - len(parts))


def span(key: Any, length: int) -> tuple[tuple[int, int, int], bool]:
    """(start, stop, step) of an int or slice within [0, length], and whether to squeeze the axis."""
    if isinstance(key, (bool, np.bool_)):
        raise OutOfRangeError(f"boolean index {key!r}: lazy arrays take ints and slices")
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
