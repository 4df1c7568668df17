"""Two DDP ranks (gloo, CPU) train a tiny 3-D CNN on VolumePatches of an OME-Zarr; rank 0 writes what
each rank saw and the final weights of both (run by test_train.py as a script, in a fresh process)."""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

import ziggurat
from ziggurat.ml import ShardSampler, VolumePatches


def run(rank: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{out}.rendezvous", rank=rank, world_size=2)
    torch.set_num_threads(1)  # two ranks on two cores
    torch.manual_seed(0)
    layers = [torch.nn.Conv3d(1, 2, 3), torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten(), torch.nn.Linear(2, 1)]
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Sequential(*layers))
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)
    dataset = VolumePatches([ziggurat.open(store)], patch_size=8, samples_per_epoch=16, seed=1)
    sampler = ShardSampler(dataset)  # rank and world size from torch.distributed
    seen = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        mine = []
        for batch in DataLoader(dataset, batch_size=4, sampler=sampler):
            loss = model(batch["image"] / 1000).mean() ** 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            mine += [[int(i), *loc] for i, loc in zip(batch["index"], batch["location"].tolist())]
        gathered: list[object] = [None, None]
        dist.all_gather_object(gathered, mine)
        seen.append(gathered)
    weights: list[object] = [None, None]
    dist.all_gather_object(weights, torch.cat([p.detach().flatten() for p in model.parameters()]).tolist())
    if rank == 0:
        with open(out, "w") as fh:
            json.dump({"seen": seen, "weights": weights}, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    # fork: the ranks start without re-importing torch (spawn is what test_shards' DataLoader workers use)
    mp.start_processes(run, args=(sys.argv[1], sys.argv[2]), nprocs=2, start_method="fork")
