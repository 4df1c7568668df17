"""Shards of an epoch's samples over DDP ranks x DataLoader workers, each sample once, resumable.

The epoch's order (a permutation drawn from (seed, epoch), or 0..n-1) is the same in every process;
shard ``s`` of ``S`` takes every S-th index of what remains after ``start`` (samples already consumed
when resuming). :class:`ShardSampler` shards over ranks (a DataLoader's workers then share a rank's
batches); :class:`ShardedIterable` shards over ``rank x num_workers + worker_id`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch.distributed as dist
from torch.utils.data import IterableDataset, Sampler, get_worker_info

from .base import PatchDataset


def shard_indices(n: int, seed: int, epoch: int, shard: int, shards: int, start: int = 0,
                  shuffle: bool = True) -> np.ndarray:  # fmt: skip
    """Shard ``shard`` of ``shards`` of an epoch's order of ``n`` samples, past the first ``start``."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} out of range for {shards} shards")
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    return order[start:][shard::shards]


def _rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    ready = dist.is_available() and dist.is_initialized()
    return (dist.get_rank() if ready else 0) if rank is None else rank, (
        (dist.get_world_size() if ready else 1) if world_size is None else world_size
    )


class _Resumable:
    """Epoch and resume position (samples of the epoch's order already consumed, over all ranks)."""

    def __init__(self, dataset: PatchDataset, rank: int | None, world_size: int | None, shuffle: bool,
                 seed: int | None) -> None:  # fmt: skip
        self.dataset = dataset
        self.rank, self.world_size = _rank_world(rank, world_size)
        self.shuffle = shuffle
        self.seed = dataset.seed if seed is None else seed
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` (also the dataset's, so its random positions change)."""
        self.epoch = epoch
        self.start = 0
        self.dataset.set_epoch(epoch)

    def state_dict(self, consumed: int = 0) -> dict[str, Any]:
        """Where to resume: ``consumed`` = samples of this epoch already trained on, over all ranks
        (e.g. ``steps * batch_size * world_size``)."""
        return {"epoch": self.epoch, "start": self.start + consumed, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.set_epoch(int(state["epoch"]))
        self.seed = int(state["seed"])
        self.start = int(state["start"])


class ShardSampler(_Resumable, Sampler[int]):
    """A DistributedSampler that resumes mid-epoch: this rank's indices of the epoch's order."""

    def __init__(self, dataset: PatchDataset, rank: int | None = None, world_size: int | None = None,
                 shuffle: bool = True, seed: int | None = None) -> None:  # fmt: skip
        _Resumable.__init__(self, dataset, rank, world_size, shuffle, seed)

    def _indices(self) -> np.ndarray:
        return shard_indices(len(self.dataset), self.seed, self.epoch, self.rank, self.world_size, self.start,
                             self.shuffle)  # fmt: skip

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return len(self._indices())


class ShardedIterable(_Resumable, IterableDataset[dict[str, Any]]):
    """The dataset as a stream sharded by ``rank x num_workers + worker_id``: every sample of the epoch
    is read once, by one worker of one rank, with no sampler and no index traffic. With ``batch_size``
    it yields collated batches, each read in one call (use ``DataLoader(stream, batch_size=None)``)."""

    def __init__(self, dataset: PatchDataset, rank: int | None = None, world_size: int | None = None,
                 shuffle: bool = True, seed: int | None = None, batch_size: int | None = None) -> None:  # fmt: skip
        _Resumable.__init__(self, dataset, rank, world_size, shuffle, seed)
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        shard = self.rank * workers + worker
        indices = shard_indices(len(self.dataset), self.seed, self.epoch, shard, self.world_size * workers,
                                self.start, self.shuffle).tolist()  # fmt: skip
        if self.batch_size is None:
            for index in indices:
                yield self.dataset.sample(index, self.epoch)
            return
        for at in range(0, len(indices), self.batch_size):
            yield self.dataset.batch(indices[at : at + self.batch_size], self.epoch)
