"""Training end to end on CPU: a 2-rank DDP run over an OME-Zarr, and a tiny 3-D CNN that learns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

import ziggurat
from ziggurat.ml import ShardedIterable, VolumePatches


def test_two_rank_ddp_sees_each_patch_once(zarr_volume: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp.json"
    script = Path(__file__).with_name("ddp_run.py")
    done = subprocess.run([sys.executable, str(script), str(zarr_volume), str(out)], capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    dataset = VolumePatches([ziggurat.open(zarr_volume)], patch_size=8, samples_per_epoch=16, seed=1)
    for epoch, (rank0, rank1) in enumerate(result["seen"]):
        truth = sorted([0, *dataset.position(i, epoch)[1]] for i in range(16))
        assert len(rank0) == len(rank1) == 8 and sorted(rank0 + rank1) == truth
    assert result["seen"][0] != result["seen"][1]  # new positions in epoch 1
    np.testing.assert_allclose(*result["weights"])  # DDP kept the ranks in step


def test_tiny_cnn_learns_texture_from_patches() -> None:
    """Label = which volume: white noise vs the same noise smoothed along x (equal mean and variance),
    so only a convolution can tell them apart."""
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, (24, 24, 48)).astype(np.float32)
    smooth = (noise + np.roll(noise, 1, axis=2)) / np.sqrt(2).astype(np.float32)
    images = [ziggurat.from_array(v, axes="zyx") for v in (noise, smooth)]
    train = ShardedIterable(VolumePatches(images, patch_size=12, samples_per_epoch=256, seed=1))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv3d(1, 4, (1, 1, 2)), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool3d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 2))  # fmt: skip
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for epoch in range(3):
        train.set_epoch(epoch)
        for batch in DataLoader(train, batch_size=32):
            loss = torch.nn.functional.cross_entropy(model(batch["image"]), batch["index"])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    test = VolumePatches(images, patch_size=12, samples_per_epoch=64, seed=99)
    batch = next(iter(DataLoader(test, batch_size=64)))
    accuracy = (model(batch["image"]).argmax(1) == batch["index"]).float().mean()
    assert accuracy > 0.9


def test_tiny_2d_cnn_learns_orientation_from_slide_patches() -> None:
    """Label = which slide: white noise or the same noise smoothed along x (equal mean and variance per
    pixel), so only a convolution tells them apart; batches come from loader(threads=2)."""
    from ziggurat.ml import SlidePatches, loader

    rng = np.random.default_rng(1)
    noise = rng.normal(0, 40, (160, 160, 3))
    smooth = (noise + np.roll(noise, 1, axis=1)) / 2**0.5
    slides = [ziggurat.from_array(np.clip(v + 128, 0, 255).astype(np.uint8)) for v in (noise, smooth)]
    train = SlidePatches(slides, patch_size=24, samples_per_epoch=256, seed=1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, (1, 2)), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 2))  # fmt: skip
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for epoch in range(3):
        train.set_epoch(epoch)
        for batch in loader(train, 32, threads=2):
            loss = torch.nn.functional.cross_entropy(model((batch["image"].float() - 128) / 40), batch["index"])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    test = SlidePatches(slides, patch_size=24, samples_per_epoch=128, seed=99)
    batch = test[list(range(128))]
    accuracy = (model((batch["image"].float() - 128) / 40).argmax(1) == batch["index"]).float().mean()
    assert accuracy > 0.9
