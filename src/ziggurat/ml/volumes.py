"""3-D patches and 2-D slices of volumes (axes ending in ``zyx``; a ``c`` axis and stacked modalities
become channels, any other leading axis is read at index 0)."""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..model.image import Image
from .base import PatchDataset, Plan
from .images import image_set
from .patches import read_patches
from .sampling import grid_starts, rng, strides
from .weighted import Centres

ZYX = "zyx"


def _spatial(image: Image, level: int) -> tuple[int, int, int]:
    if not image.axes.endswith(ZYX):
        raise ValueError(f"{image.path or 'image'}: axes {image.axes!r} are not a volume's (…zyx)")
    if not 0 <= level < image.level_count:
        raise ValueError(f"{image.path or 'image'}: no level {level} (it has {image.level_count})")
    z, y, x = image.levels[level].shape[-3:]
    return z, y, x


def _entry_shape(images: list[Image], level: int) -> tuple[int, int, int]:
    """The (z, y, x) shape of a level shared by every modality of an entry (stacked as channels)."""
    shapes = {_spatial(image, level) for image in images}
    if len(shapes) != 1:
        raise ValueError(f"{images[0].path or 'image'}: modalities of different shapes {sorted(shapes)} cannot stack")
    return shapes.pop()


class _Volumes(PatchDataset):
    def __init__(self, images: Any, level: int, seed: int, modalities: Sequence[str] | None,
                 labels: Sequence[str], dtype: Any, max_open: int, sampling_map: Any = None) -> None:  # fmt: skip
        super().__init__(image_set(images, modalities, labels, max_open, sampling_map), seed)
        self.level = level
        self.dtype = np.dtype(dtype)
        self.shapes = [_entry_shape(self._all(k), level) for k in range(len(self.images))]
        if not self.shapes:
            raise ValueError("no volumes to sample from")

    def _all(self, entry: int) -> list[Image]:
        return self.images.images(entry) + ([self.images.map(entry)] if self.images.mapped else [])

    def location(self, entry: int, origin: tuple[int, ...]) -> tuple[int, ...]:
        """Level-0 voxels of a level origin (the level's downsample per axis)."""
        full = self.images.image(entry).shape[-3:]
        return tuple(round(o * f / n) for o, f, n in zip(origin, full, self.shapes[entry]))

    def origin(self, entry: int, location: tuple[int, ...]) -> tuple[int, ...]:
        full = self.images.image(entry).shape[-3:]
        return tuple(round(v * n / f) for v, f, n in zip(location, full, self.shapes[entry]))

    def extent(self, entry: int) -> tuple[int, ...]:
        return self.shapes[entry]


class VolumePatches(_Volumes):
    """3-D patches of ``patch_size`` (z, y, x): ``samples_per_epoch`` random ones (uniform over
    volumes, then over origins), or, when it is None, the grid of every volume with ``overlap``.

    With a ``sampling_map`` (one Image per volume, or over a cohort the modality holding it), random
    patches are centred on a voxel drawn by the map's value (weights), or — with
    ``label_probabilities={label: p}`` — on a voxel of a label drawn with those chances; every sample
    then also carries the map's patch as ``"target"``."""

    def __init__(self, images: Any, patch_size: int | Sequence[int] = (64, 64, 64), *,
                 samples_per_epoch: int | None = None, overlap: int | Sequence[int] = 0, level: int = 0,
                 seed: int = 0, modalities: Sequence[str] | None = None, labels: Sequence[str] = (),
                 dtype: Any = np.float32, max_open: int = 64, sampling_map: Any = None,
                 label_probabilities: Mapping[int, float] | None = None) -> None:  # fmt: skip
        super().__init__(images, level, seed, modalities, labels, dtype, max_open, sampling_map)
        if label_probabilities is not None and sampling_map is None:
            raise ValueError("label_probabilities= needs a sampling_map= (the label map)")
        self.probabilities = None if label_probabilities is None else dict(label_probabilities)
        self._centres: tuple[int, dict[int, Centres]] | None = None
        self.patch = _triple(patch_size)
        self.samples_per_epoch = samples_per_epoch
        self.grid: list[list[tuple[int, ...]]] = []
        self._ends: list[int] = []
        if samples_per_epoch is None:
            step = strides(self.patch, _triple(overlap))
            for shape in self.shapes:
                axes = [grid_starts(n, p, s) for n, p, s in zip(shape, self.patch, step)]
                self.grid.append(list(itertools.product(*axes)))
            self._ends = list(itertools.accumulate(len(g) for g in self.grid))

    def __len__(self) -> int:
        return self.samples_per_epoch if self.samples_per_epoch is not None else self._ends[-1]

    def position(self, index: int, epoch: int) -> tuple[int, tuple[int, ...]]:
        """(entry, level origin (z, y, x)) of sample ``index`` in ``epoch``."""
        if self.samples_per_epoch is None:
            entry = bisect.bisect_right(self._ends, index)
            return entry, self.grid[entry][index - (self._ends[entry - 1] if entry else 0)]
        r = rng(self.seed, epoch, index)
        entry = int(r.integers(len(self.shapes)))
        if self.images.mapped:
            return entry, self.centres(entry).draw(r)
        return entry, tuple(int(r.integers(max(n - p, 0) + 1)) for n, p in zip(self.shapes[entry], self.patch))

    def centres(self, entry: int) -> Centres:
        """The candidate centres of ``entry``'s map, built once per process from the whole map."""
        held = self._centres
        if held is None or held[0] != os.getpid():
            held = self._centres = (os.getpid(), {})
        if entry not in held[1]:
            values = read_patches(self.images.map(entry), [(0, 0, 0)], self.shapes[entry], level=self.level)[0, 0]
            held[1][entry] = Centres(values, self.patch, self.probabilities)
        return held[1][entry]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_centres": None}

    def plan(self, index: int, epoch: int) -> Plan:
        return (*self.position(index, epoch), self.patch)

    def footprint(self, entry: int) -> tuple[int, ...]:
        return self.patch


class Volumes(_Volumes):
    """Whole volumes, one sample each; with ``shape`` (z, y, x), each centre-cropped or zero-padded to
    it (the odd voxel of a crop or pad goes after), so volumes of different shapes batch together.
    A ``sampling_map`` (label map) comes along as ``"target"``, cropped and padded alike."""

    def __init__(self, images: Any, shape: int | Sequence[int] | None = None, *, level: int = 0, seed: int = 0,
                 modalities: Sequence[str] | None = None, labels: Sequence[str] = (), dtype: Any = np.float32,
                 max_open: int = 64, sampling_map: Any = None) -> None:  # fmt: skip
        super().__init__(images, level, seed, modalities, labels, dtype, max_open, sampling_map)
        self.shape = None if shape is None else _triple(shape)

    def __len__(self) -> int:
        return len(self.shapes)

    def plan(self, index: int, epoch: int) -> Plan:
        full = self.shapes[index]
        size = self.shape or full
        return index, tuple((n - s) // 2 if n >= s else -((s - n) // 2) for n, s in zip(full, size)), size


class VolumeSlices(_Volumes):
    """Every ``step``-th 2-D slice along ``axis`` ("z", "y" or "x") of every volume: (C, H, W) images."""

    def __init__(self, images: Any, axis: str = "z", *, step: int = 1, level: int = 0, seed: int = 0,
                 modalities: Sequence[str] | None = None, labels: Sequence[str] = (), dtype: Any = np.float32,
                 max_open: int = 64) -> None:  # fmt: skip
        super().__init__(images, level, seed, modalities, labels, dtype, max_open)
        if axis not in ZYX:
            raise ValueError(f"axis must be one of 'z', 'y', 'x', not {axis!r}")
        self.axis = ZYX.index(axis)
        self._ends = list(itertools.accumulate(len(range(0, s[self.axis], step)) for s in self.shapes))
        self.step = step

    def __len__(self) -> int:
        return self._ends[-1]

    def plan(self, index: int, epoch: int) -> Plan:
        entry = bisect.bisect_right(self._ends, index)
        at = (index - (self._ends[entry - 1] if entry else 0)) * self.step
        size = tuple(1 if a == self.axis else n for a, n in enumerate(self.shapes[entry]))
        return entry, tuple(at if a == self.axis else 0 for a in range(3)), size

    def finish(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.squeeze(2 + self.axis)  # (N, C, z, y, x) -> (N, C, H, W)


def _triple(value: int | Sequence[int]) -> tuple[int, ...]:
    out = (int(value),) * 3 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(out) != 3 or min(out) < 0:
        raise ValueError(f"expected three non-negative sizes (z, y, x), got {value!r}")
    return out
