"""Batched patch reads: every patch of a batch in one call, channels first, zero-padded past the edge.

:func:`fill_patches` hands all the batch's boxes to :meth:`Level.read_into`, so a Zarr level fetches
each stored chunk once for the whole batch (chunks shared by overlapping patches are decoded once,
nearby chunks of a shard come in one ``pread``) and decodes them on the GIL-free decode pool; other
levels read box by box. Patches are written straight into the caller's output (in a DataLoader
worker, a shared-memory batch), so no collate copy follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model.image import Image
from .sampling import clip_pad

SPATIAL = "zyx"


def spatial_axes(image: Image) -> str:
    """The image's spatial axes in order (``zyx`` for a volume, ``yx`` for a slide)."""
    return "".join(a for a in image.axes if a in SPATIAL)


def channels(image: Image, level: int = 0) -> int:
    """Channels the image gives a patch: its ``c`` axis, or 1."""
    lvl = image.levels[level]
    return lvl.shape[image.axes.index("c")] if "c" in image.axes else 1


def fill_patches(images: Sequence[Image], origins: Sequence[Sequence[int]], size: Sequence[int],
                 outs: Sequence[np.ndarray], level: int = 0) -> None:  # fmt: skip
    """Fill ``outs[i]`` (C, *size) with the patch at level origin ``origins[i]`` (over the spatial
    axes) of every image, their channels stacked in order; a ``c`` axis gives channels, any other
    non-spatial axis is read at index 0, and the parts of a patch outside the level are zeros."""
    start = 0
    for image in images:
        lvl = image.levels[level]
        spatial = spatial_axes(image)
        if len(spatial) != len(size):
            raise ValueError(f"{image.path or 'image'}: {len(size)}-D patches of an image with axes {image.axes!r}")
        extent = [lvl.shape[image.axes.index(a)] for a in spatial]
        count = channels(image, level)
        native = lvl.dtype == outs[0].dtype if outs else True
        scratch = None if native else np.empty((len(outs), count, *size), lvl.dtype)
        targets = []
        for i, (origin, out) in enumerate(zip(origins, outs)):
            inside, pad = clip_pad([(o, o + s) for o, s in zip(origin, size)], tuple(extent))
            view = out[start : start + count] if scratch is None else scratch[i]
            if any(p != (0, 0) for p in pad):
                view[...] = 0
            view = view[(slice(None), *(slice(a, n - b) for (a, b), n in zip(pad, size)))]
            targets.append(_level_target(image.axes, lvl.shape, dict(zip(spatial, inside)), view))
        lvl.read_into(targets)
        if scratch is not None:
            for out, block in zip(outs, scratch):
                out[start : start + count] = block
        start += count


def _level_target(axes: str, shape: tuple[int, ...], inside: dict[str, tuple[int, int]],
                  view: np.ndarray) -> tuple[tuple[tuple[int, int], ...], np.ndarray]:  # fmt: skip
    """(the level box, ``view`` seen in the level's axis order): ``view`` is (C, *spatial)."""
    labels = ["c", *inside]
    if "c" not in axes:
        view, labels = view[0], labels[1:]
    for axis in axes:
        if axis not in labels:  # e.g. t, read at index 0
            view, labels = view[..., None], [*labels, axis]
    view = view.transpose([labels.index(a) for a in axes])
    box = tuple(inside[a] if a in inside else (0, n) if a == "c" else (0, 1) for a, n in zip(axes, shape))
    return box, view


def read_patches(images: Image | Sequence[Image], origins: Sequence[Sequence[int]], size: Sequence[int], *,
                 level: int = 0, dtype: Any = None) -> np.ndarray:  # fmt: skip
    """(N, C, *size) patches at level ``origins`` (over the spatial axes: ``(z, y, x)`` of a volume,
    ``(y, x)`` of a slide) of one image or of modalities stacked as channels, in one batched read."""
    group = [images] if isinstance(images, Image) else list(images)
    dtype = np.dtype(dtype or group[0].levels[level].dtype)
    out = np.empty((len(origins), sum(channels(i, level) for i in group), *size), dtype)
    fill_patches(group, origins, size, list(out), level)
    return out
