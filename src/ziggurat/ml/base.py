"""The dataset base: an ImageSet, a seed and an epoch; ``dataset[i]`` is sample ``i`` of the epoch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .images import ImageSet


class PatchDataset(Dataset[dict[str, Any]]):
    """Map-style: ``len(dataset)`` samples per epoch; ``dataset[i]`` depends only on (seed, epoch, i)."""

    def __init__(self, images: ImageSet, seed: int) -> None:
        self.images = images
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the positions of ``epoch`` (call before each epoch, as with DistributedSampler)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        raise NotImplementedError

    def sample(self, index: int, epoch: int) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        return self.sample(index % len(self), self.epoch)

    def _record(self, entry: int, pixels: np.ndarray, location: tuple[int, ...], level: int) -> dict[str, Any]:
        """A sample dict: the tensor (channels first) with where it came from and its labels."""
        return {"image": torch.from_numpy(np.ascontiguousarray(pixels)), "index": entry,
                "location": torch.tensor(location), "level": level, **self.images.sample_fields(entry)}  # fmt: skip
