"""Stitch a network's outputs on patches back into a map per image: a volume, a slide, or a coarser map.

Outputs (N, C, *s) of patches whose footprint is ``f`` level pixels are placed at ``origin / (f / s)``
in a map of ``extent / (f / s)`` pixels, so dense outputs (s = f) rebuild the level, a network that
halves its input builds a half-size map, and one vector per patch (N, C) builds a slide-level map of
one cell per patch footprint. Overlaps are averaged (TorchIO's GridAggregator "average" mode); pixels
no patch covered are 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .base import PatchDataset


class GridAggregator:
    """Accumulates outputs batch by batch (``add``), then gives each image's map (``result``)."""

    def __init__(self, dataset: PatchDataset) -> None:
        self.dataset = dataset
        self._sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, outputs: torch.Tensor | np.ndarray, batch: dict[str, Any]) -> None:
        """Outputs (N, C, *s) or (N, C) of the samples of ``batch`` (its ``"index"`` and ``"location"``)."""
        values = outputs.detach().cpu().numpy() if isinstance(outputs, torch.Tensor) else np.asarray(outputs)
        entries = [int(e) for e in batch["index"]]
        locations = [tuple(int(v) for v in loc) for loc in batch["location"].tolist()]
        for value, entry, location in zip(values, entries, locations):
            footprint = self.dataset.footprint(entry)
            if value.ndim == 1:
                value = value.reshape(-1, *(1 for _ in footprint))
            factor = [f / s for f, s in zip(footprint, value.shape[1:])]
            total, count = self._map(entry, value.shape[0], factor)
            origin = self.dataset.origin(entry, location)
            start = [round(o / k) for o, k in zip(origin, factor)]
            box = tuple(slice(max(a, 0), min(a + s, n)) for a, s, n in zip(start, value.shape[1:], count.shape))
            src = tuple(slice(b.start - a, b.stop - a) for b, a in zip(box, start))
            total[(slice(None), *box)] += value[(slice(None), *src)]
            count[box] += 1

    def _map(self, entry: int, channels: int, factor: list[float]) -> tuple[np.ndarray, np.ndarray]:
        if entry not in self._sums:
            shape = tuple(math.ceil(n / k) for n, k in zip(self.dataset.extent(entry), factor))
            self._sums[entry] = (np.zeros((channels, *shape), np.float64), np.zeros(shape, np.int32))
        return self._sums[entry]

    def result(self, entry: int) -> np.ndarray:
        """The (C, *map) average of the outputs added for image ``entry``, float32."""
        total, count = self._sums[entry]
        mean: np.ndarray = (total / np.maximum(count, 1)).astype(np.float32)
        return mean
