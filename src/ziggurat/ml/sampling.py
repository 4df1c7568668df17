"""Positions and shards as pure functions of (seed, epoch, index): the same on every rank and worker."""

from __future__ import annotations

import numpy as np


def rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` in ``epoch``: reproducible, independent across the three."""
    return np.random.default_rng([seed, epoch, index])


def grid_starts(extent: int, patch: int, stride: int) -> list[int]:
    """Patch origins along one axis: every ``stride``, plus one flush with the end (full coverage)."""
    last = max(extent - patch, 0)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


def strides(patch: tuple[int, ...], overlap: tuple[int, ...]) -> tuple[int, ...]:
    if any(not 0 <= o < p for o, p in zip(overlap, patch)):
        raise ValueError(f"overlap {overlap} must be >= 0 and smaller than the patch {patch}")
    return tuple(p - o for p, o in zip(patch, overlap))


def clip_pad(box: list[tuple[int, int]], shape: tuple[int, ...]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The in-bounds part of ``box`` and the (before, after) padding that restores its size."""
    inside = [(max(a, 0), min(b, n)) for (a, b), n in zip(box, shape)]
    pad = [(ia - a, b - ib) for (a, b), (ia, ib) in zip(box, inside)]
    return inside, pad
