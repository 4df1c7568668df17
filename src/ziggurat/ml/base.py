"""The dataset base: an ImageSet, a seed and an epoch; ``dataset[i]`` is sample ``i`` of the epoch and
``dataset[[i, j, ...]]`` the collated batch of those samples, read in one batched call."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate, get_worker_info

from ..kernels.resize import resize_area
from ..model.image import Image
from .images import ImageSet
from .patches import channels, fill_patches

#: (entry, level origin over the spatial axes, patch size)
Plan = tuple[int, tuple[int, ...], tuple[int, ...]]


class PatchDataset(Dataset[dict[str, Any]]):
    """Map-style: ``len(dataset)`` samples per epoch; sample ``i`` depends only on (seed, epoch, i).

    Subclasses say where sample ``i`` is (:meth:`plan`) and how level origins map to level-0
    ``"location"`` (:meth:`location`); reading, batching and collating live here, once."""

    level: int
    dtype: np.dtype[Any]

    def __init__(self, images: ImageSet, seed: int) -> None:
        self.images = images
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the positions of ``epoch`` (call before each epoch, as with DistributedSampler)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        raise NotImplementedError

    def plan(self, index: int, epoch: int) -> Plan:
        """(entry, level origin, patch size) of sample ``index`` in ``epoch``."""
        raise NotImplementedError

    def location(self, entry: int, origin: tuple[int, ...]) -> tuple[int, ...]:
        """The level-0 ``"location"`` of a level origin."""
        raise NotImplementedError

    def origin(self, entry: int, location: tuple[int, ...]) -> tuple[int, ...]:
        """The level origin of a level-0 ``"location"`` (what :meth:`location` inverts)."""
        raise NotImplementedError

    def extent(self, entry: int) -> tuple[int, ...]:
        """The spatial shape of the level ``entry`` is read at."""
        raise NotImplementedError

    def footprint(self, entry: int) -> tuple[int, ...]:
        """The level pixels one sample of ``entry`` covers."""
        raise NotImplementedError

    def level_of(self, entry: int) -> int:
        """The level ``entry``'s samples are read at."""
        return self.level

    def output_size(self, size: tuple[int, ...]) -> tuple[int, ...]:
        """The size a patch read at ``size`` is resized to (SlidePatches at an mpp); else ``size``."""
        return size

    def finish(self, pixels: torch.Tensor) -> torch.Tensor:
        """The batch tensor as samples carry it (VolumeSlices drops its length-1 axis)."""
        return pixels

    def _check(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        return index % len(self)

    def __getitem__(self, index: int | Sequence[int]) -> dict[str, Any]:
        if isinstance(index, (int, np.integer)):
            return self.sample(int(index), self.epoch)
        return self.batch(index, self.epoch)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """What ``DataLoader(batch_size=...)`` asks for: the samples of one batch, read in one call."""
        pixels, fields = self._read([self._check(int(i)) for i in indices], self.epoch, shared=False)
        return [{"image": image, **f} for image, f in zip(self.finish(pixels), fields)]

    def sample(self, index: int, epoch: int) -> dict[str, Any]:
        pixels, (fields,) = self._read([self._check(index)], epoch, shared=False)
        return {"image": self.finish(pixels)[0], **fields}

    def batch(self, indices: Sequence[int], epoch: int) -> dict[str, Any]:
        """The collated batch of ``indices`` (what ``default_collate`` makes of their samples), its
        pixels read in one call into one tensor (in shared memory inside a DataLoader worker)."""
        pixels, fields = self._read([self._check(int(i)) for i in indices], epoch, shared=True)
        return {"image": self.finish(pixels), **default_collate(fields)}

    def _read(self, indices: list[int], epoch: int, shared: bool) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        plans = [self.plan(i, epoch) for i in indices]
        shapes = {(self._channels(entry), self.output_size(size)) for entry, _, size in plans}
        if len(shapes) != 1:
            raise ValueError(f"samples of different shapes {sorted(shapes)} cannot share a batch (use batch_size=1)")
        ((count, size),) = shapes
        shared = shared and get_worker_info() is not None
        pixels = empty_batch((len(plans), count, *size), self.dtype, shared)
        targets = None
        if self.images.mapped:  # the map's patch too (a segmentation target), in its own dtype
            targets = empty_batch((len(plans), 1, *size), self.images.map(plans[0][0]).levels[self.level].dtype, shared)
        by_entry: dict[int, list[int]] = {}
        for k, (entry, _, _) in enumerate(plans):
            by_entry.setdefault(entry, []).append(k)
        for entry, members in by_entry.items():
            origins = [plans[k][1] for k in members]
            self._fill(self.images.images(entry), entry, origins, plans[members[0]][2], pixels.numpy(), members)
            if targets is not None:
                self._fill([self.images.map(entry)], entry, origins, plans[members[0]][2], targets.numpy(), members)
        fields = [{"index": entry, "location": torch.tensor(self.location(entry, origin)),
                   "level": self.level_of(entry), **self.images.sample_fields(entry)}
                  for entry, origin, _ in plans]  # fmt: skip
        if targets is not None:
            for field, target in zip(fields, self.finish(targets)):
                field["target"] = target
        return pixels, fields

    def _fill(self, images: list[Image], entry: int, origins: list[tuple[int, ...]], size: tuple[int, ...],
              out: np.ndarray, members: list[int]) -> None:  # fmt: skip
        """Patches ``members`` of the batch ``out`` (N, C, ...), area-resized when read at another size."""
        if out.shape[2:] == size:
            fill_patches(images, origins, size, [out[k] for k in members], self.level_of(entry))
            return
        read = np.empty((len(members), out.shape[1], *size), out.dtype)
        fill_patches(images, origins, size, list(read), self.level_of(entry))
        for k, patch in zip(members, read):  # resize_area takes (H, W, C)
            out[k] = resize_area(np.moveaxis(patch, 0, -1), *out.shape[2:4]).transpose(2, 0, 1)

    def _channels(self, entry: int) -> int:
        return sum(channels(image, self.level) for image in self.images.images(entry))


def empty_batch(shape: tuple[int, ...], dtype: np.dtype[Any], shared: bool) -> torch.Tensor:
    """An uninitialised tensor; ``shared``: in shared memory, so a worker hands it to the main process
    without a copy (as ``default_collate`` allocates its output inside workers)."""
    kind = torch.from_numpy(np.empty(0, dtype)).dtype
    if not shared:
        return torch.empty(shape, dtype=kind)
    base = torch.empty(0, dtype=kind)
    storage = base._typed_storage()._new_shared(math.prod(shape))  # type: ignore[no-untyped-call]
    return base.new(storage).view(shape)
