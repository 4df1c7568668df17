"""Patch centres drawn from a map, as TorchIO's samplers do: by voxel weight (``WeightedSampler``) or by
label with given probabilities, then uniformly among that label's voxels (``LabelSampler``).

Only centres whose patch lies wholly inside the volume are candidates (on an axis shorter than the
patch, every voxel is). The tables are built from the map's level once per process, on first use.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class Centres:
    """Candidate centres of one map: per-label flat indices, or cumulative weights of the weighted voxels."""

    def __init__(self, values: np.ndarray, patch: tuple[int, ...], probabilities: Mapping[int, float] | None) -> None:
        self.shape = values.shape
        self.patch = patch
        inside = np.zeros(values.shape, bool)
        inside[tuple(_centres(n, p) for n, p in zip(values.shape, patch))] = True
        self.labels: list[np.ndarray] = []  # flat indices of each drawn label's candidate voxels
        self.chances: np.ndarray | None = None  # and the chance of each label (None: by weight)
        if probabilities is None:
            weights = np.where(inside, values, 0).astype(np.float64).ravel()
            if (weights < 0).any():
                raise ValueError("sampling weights must be >= 0")
            self.flat = np.flatnonzero(weights)
            self.cumulative = np.cumsum(weights[self.flat])
            self.empty = not len(self.flat)
        else:
            found = {k: np.flatnonzero(inside & (values == k)) for k, p in probabilities.items() if p > 0}
            present = [k for k, v in found.items() if len(v)]  # absent labels: the others share their chance
            self.labels = [found[k] for k in present]
            total = sum(probabilities[k] for k in present)
            self.chances = np.array([probabilities[k] / total for k in present]) if total else np.zeros(0)
            self.empty = not present

    def draw(self, r: np.random.Generator) -> tuple[int, ...]:
        """A patch origin whose centre is a drawn voxel (an empty map: a uniform origin)."""
        if self.empty:
            flat = int(r.integers(int(np.prod(self.shape))))
        elif self.chances is not None:
            voxels = self.labels[int(r.choice(len(self.chances), p=self.chances))]
            flat = int(voxels[r.integers(len(voxels))])
        else:
            at = np.searchsorted(self.cumulative, r.random() * self.cumulative[-1], side="right")
            flat = int(self.flat[min(int(at), len(self.flat) - 1)])
        centre = np.unravel_index(flat, self.shape)
        return tuple(min(max(int(c) - p // 2, 0), max(n - p, 0)) for c, p, n in zip(centre, self.patch, self.shape))


def _centres(extent: int, patch: int) -> slice:
    """Centres along one axis whose patch (origin ``centre - patch // 2``) fits inside ``extent``."""
    if extent < patch:
        return slice(0, extent)
    return slice(patch // 2, extent - patch + patch // 2 + 1)
