"""Batched reads (read_patches, Level.read_into) against NumPy slicing of the source, and the loaders
whose every batch is one call: the same batches as DataLoader + default_collate, in workers and threads."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import ziggurat
from ziggurat.ml import ShardedIterable, VolumePatches, loader, read_patches


def _numpy_patch(volume: np.ndarray, origin: tuple[int, ...], size: tuple[int, ...]) -> np.ndarray:
    """The patch by hand: zeros, then the in-bounds part of the volume copied in."""
    out = np.zeros(size, volume.dtype)
    inside = tuple(slice(max(o, 0), min(o + s, n)) for o, s, n in zip(origin, size, volume.shape))
    out[tuple(slice(sl.start - o, sl.stop - o) for sl, o in zip(inside, origin))] = volume[inside]
    return out


def test_read_patches_of_a_zarr_equal_numpy_and_decode_each_chunk_once(
    zarr_volume: Path, volumes: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = ziggurat.open(zarr_volume)
    reader = image.levels[0].reader
    placed: list[tuple[int, ...]] = []  # _place decodes a chunk once and copies it into every patch it meets
    inner = reader._place
    monkeypatch.setattr(reader, "_place", lambda chunk, *args: placed.append(chunk) or inner(chunk, *args))
    # overlapping patches (sharing 16^3 chunks), one reaching past the far corner (zero-padded)
    origins = [(0, 0, 0), (4, 8, 8), (10, 12, 14), (30, 40, 50)]
    patches = read_patches(image, origins, (20, 20, 20))
    assert patches.shape == (4, 1, 20, 20, 20) and patches.dtype == np.float32
    for patch, origin in zip(patches, origins):
        np.testing.assert_array_equal(patch[0], _numpy_patch(volumes[0], origin, (20, 20, 20)))
    touched = {
        tuple(c // 16 for c in corner)
        for o in origins
        for corner in itertools.product(*(range(a, min(a + 20, n), 1) for a, n in zip(o, volumes[0].shape)))
    }
    assert sorted(placed) == sorted(touched)  # 14 distinct chunks, each placed once (29 patch-chunk pairs)


def test_read_patches_stacks_channels_and_casts() -> None:
    rng = np.random.default_rng(0)
    four = rng.integers(0, 4000, (2, 12, 14, 16), dtype=np.uint16)
    other = rng.integers(0, 4000, (12, 14, 16), dtype=np.uint16)
    images = [ziggurat.from_array(four, axes="czyx"), ziggurat.from_array(other, axes="zyx")]
    patches = read_patches(images, [(2, 3, 4), (8, 10, 12)], (6, 6, 6), dtype=np.float32)
    assert patches.shape == (2, 3, 6, 6, 6) and patches.dtype == np.float32
    np.testing.assert_array_equal(patches[0, :2], four[:, 2:8, 3:9, 4:10])
    np.testing.assert_array_equal(patches[1, 2], _numpy_patch(other, (8, 10, 12), (6, 6, 6)))


def test_read_patches_of_a_slide_are_channels_first() -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    patches = read_patches(ziggurat.from_array(rgb), [(0, 0), (40, 60)], (16, 16))
    assert patches.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(patches[0].transpose(1, 2, 0), rgb[:16, :16])
    np.testing.assert_array_equal(patches[1].transpose(1, 2, 0), _numpy_patch(rgb, (40, 60, 0), (16, 16, 3)))


@pytest.fixture(scope="module")
def patches(zarr_volume: Path) -> VolumePatches:
    return VolumePatches([ziggurat.open(zarr_volume)], patch_size=12, samples_per_epoch=24, seed=5)


def _same(a: dict[str, object], b: dict[str, object]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y, key  # type: ignore[arg-type]


def test_batch_is_default_collate_of_its_samples(patches: VolumePatches) -> None:
    reference = list(DataLoader([patches[i] for i in range(len(patches))], batch_size=8))
    for batch, truth in zip(loader(patches, 8), reference):
        _same(batch, truth)
    for batch, truth in zip(loader(patches, 8, threads=2), reference):
        _same(batch, truth)
    for batch, truth in zip(DataLoader(patches, batch_size=8), reference):  # __getitems__: one read per batch
        _same(batch, truth)


def test_worker_batches_come_in_shared_memory(patches: VolumePatches) -> None:
    reference = list(DataLoader([patches[i] for i in range(len(patches))], batch_size=8))
    batches = list(loader(patches, 8, num_workers=2, multiprocessing_context="fork"))
    assert len(batches) == 3
    for batch, truth in zip(batches, reference):
        _same(batch, truth)
        assert batch["image"].is_shared()


def test_sharded_stream_of_batches_covers_the_epoch(patches: VolumePatches) -> None:
    seen = []
    for rank in (0, 1):
        stream = ShardedIterable(patches, rank=rank, world_size=2, batch_size=5)
        stream.set_epoch(2)
        batches = list(stream)
        assert [len(b["index"]) for b in batches] == [5, 5, 2]
        seen += [tuple(loc) for b in batches for loc in b["location"].tolist()]
    assert sorted(seen) == sorted(tuple(patches.position(i, 2)[1]) for i in range(24))


def test_a_batch_of_different_shapes_is_refused(volumes: list[np.ndarray]) -> None:
    from ziggurat.ml import VolumeSlices

    slices = VolumeSlices([ziggurat.from_array(v, axes="zyx") for v in volumes[:2]])
    with pytest.raises(ValueError, match="cannot share a batch"):
        slices[[0, len(slices) - 1]]
