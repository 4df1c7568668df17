"""Shards over DDP ranks x DataLoader workers: disjoint, covering, resumable; real fork/spawn workers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import ziggurat
from ziggurat.ml import ShardedIterable, ShardSampler, VolumePatches, shard_indices


@pytest.mark.parametrize(("world", "workers"), list(itertools.product([1, 2, 4], [0, 1, 2])))
@pytest.mark.parametrize("start", [0, 7])
def test_shards_are_disjoint_and_cover_the_epoch(world: int, workers: int, start: int) -> None:
    n, shards = 101, world * max(workers, 1)
    for epoch in (0, 1):
        parts = [
            shard_indices(n, 5, epoch, rank * max(workers, 1) + w, shards, start)
            for rank in range(world)
            for w in range(max(workers, 1))
        ]
        seen = np.concatenate(parts)
        assert len(seen) == len(set(seen.tolist())) == n - start
        order = np.random.default_rng([5, epoch]).permutation(n)
        assert set(seen.tolist()) == set(order[start:].tolist())
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert not np.array_equal(shard_indices(n, 5, 0, 0, 1), shard_indices(n, 5, 1, 0, 1))


@pytest.fixture(scope="module")
def dataset(volumes: list[np.ndarray]) -> VolumePatches:
    return VolumePatches([ziggurat.from_array(v, axes="zyx") for v in volumes], patch_size=8, samples_per_epoch=24,
                         seed=2)  # fmt: skip


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_see_each_sample_once(dataset: VolumePatches, context: str) -> None:
    stream = ShardedIterable(dataset, rank=0, world_size=1)
    stream.set_epoch(3)
    loader = DataLoader(stream, batch_size=4, num_workers=2, multiprocessing_context=context)
    got = {}
    for batch in loader:
        for image, index, location in zip(batch["image"], batch["index"], batch["location"]):
            got[(int(index), tuple(location.tolist()))] = image
    truth = {}
    for i in range(len(dataset)):
        entry, origin = dataset.position(i, 3)
        truth[(entry, origin)] = i
    assert len(got) == len(truth) and set(got) == set(truth)  # 24 distinct samples, each once
    for key, i in truth.items():
        assert torch.equal(got[key], dataset.sample(i, 3)["image"])


def test_sampler_ranks_partition_and_resume(dataset: VolumePatches) -> None:
    samplers = [ShardSampler(dataset, rank=r, world_size=2) for r in range(2)]
    for s in samplers:
        s.set_epoch(1)
    full = [list(s) for s in samplers]
    assert sorted(full[0] + full[1]) == list(range(len(dataset))) and not set(full[0]) & set(full[1])
    state = samplers[0].state_dict(consumed=10)  # 5 steps of batch 1 on each of 2 ranks
    resumed = [ShardSampler(dataset, rank=r, world_size=2) for r in range(2)]
    for r in resumed:
        r.load_state_dict(state)
    rest = [list(r) for r in resumed]
    consumed = [full[0][:5], full[1][:5]]
    assert sorted(rest[0] + rest[1] + consumed[0] + consumed[1]) == list(range(len(dataset)))
    assert dataset.epoch == 1 and len(resumed[0]) == len(rest[0])


def test_iterable_resumes_mid_epoch(dataset: VolumePatches) -> None:
    stream = ShardedIterable(dataset, rank=0, world_size=1, shuffle=False)
    first = [s["location"].tolist() for s in itertools.islice(iter(stream), 10)]
    again = ShardedIterable(dataset, rank=0, world_size=1, shuffle=False)
    again.load_state_dict(stream.state_dict(consumed=10))
    rest = [s["location"].tolist() for s in again]
    assert first + rest == [dataset.sample(i, 0)["location"].tolist() for i in range(len(dataset))]
