"""Volume patches and slices against NumPy slicing of the source arrays and of a written OME-Zarr (read by zarr)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr

import ziggurat
from ziggurat.ml import VolumePatches, VolumeSlices
from ziggurat.ml.volumes import _entry_shape


def test_random_patches_equal_numpy_slicing(volumes: list[np.ndarray]) -> None:
    images = [ziggurat.from_array(v, axes="zyx") for v in volumes]
    ds = VolumePatches(images, patch_size=(16, 24, 20), samples_per_epoch=40, seed=3)
    assert len(ds) == 40
    for i in range(len(ds)):
        s = ds[i]
        z, y, x = s["location"].tolist()
        truth = volumes[s["index"]][z : z + 16, y : y + 24, x : x + 20]
        assert s["image"].shape == (1, 16, 24, 20) and s["image"].dtype == torch.float32
        np.testing.assert_array_equal(s["image"][0].numpy(), truth)
        assert s["level"] == 0 and s["subject"] == ""
    assert {ds[i]["index"] for i in range(len(ds))} == {0, 1, 2}


def test_omezarr_patches_equal_zarr(zarr_volume: Path) -> None:
    store = zarr.open_group(str(zarr_volume), mode="r")
    ds = VolumePatches([ziggurat.open(zarr_volume)], patch_size=20, samples_per_epoch=10, seed=1)
    for i in range(len(ds)):
        s = ds[i]
        z, y, x = s["location"].tolist()
        np.testing.assert_array_equal(s["image"][0].numpy(), store["0"][z : z + 20, y : y + 20, x : x + 20])


def test_level_patches_report_level0_locations(volumes: list[np.ndarray]) -> None:
    vol = volumes[0]
    half = vol[::2, ::2, ::2]
    ds = VolumePatches([ziggurat.from_array([vol, half], axes="zyx")], patch_size=8, samples_per_epoch=5, level=1,
                       seed=2)  # fmt: skip
    for i in range(len(ds)):
        s = ds[i]
        z, y, x = (s["location"] // 2).tolist()  # level 1 halves every axis of this (even) volume
        assert (s["location"] % 2 == 0).all()
        np.testing.assert_array_equal(s["image"][0].numpy(), half[z : z + 8, y : y + 8, x : x + 8])
        assert s["level"] == 1
    with pytest.raises(ValueError, match="no level 2"):
        VolumePatches([ziggurat.from_array(vol, axes="zyx")], patch_size=8, level=2)


def test_grid_with_overlap_covers_every_voxel(volumes: list[np.ndarray]) -> None:
    vol = volumes[1]
    ds = VolumePatches([ziggurat.from_array(vol, axes="zyx")], patch_size=16, overlap=4)
    seen = np.zeros(vol.shape, int)
    for i in range(len(ds)):
        s = ds[i]
        z, y, x = s["location"].tolist()
        np.testing.assert_array_equal(s["image"][0].numpy(), vol[z : z + 16, y : y + 16, x : x + 16])
        seen[z : z + 16, y : y + 16, x : x + 16] += 1
    assert seen.min() >= 1
    # starts 0, 12, 24, (36-16=20 flush) ... per axis: hand-computed counts for (36, 52, 44)
    assert len(ds) == len([0, 12, 20]) * len([0, 12, 24, 36]) * len([0, 12, 24, 28])


def test_small_volume_is_zero_padded() -> None:
    vol = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6) + 1
    s = VolumePatches([ziggurat.from_array(vol, axes="zyx")], patch_size=8)[0]
    assert s["image"].shape == (1, 8, 8, 8)
    np.testing.assert_array_equal(s["image"][0, :4, :5, :6].numpy(), vol)
    assert float(s["image"][0, 4:].abs().sum()) == 0


def test_channels_and_modalities_stack(volumes: list[np.ndarray]) -> None:
    four = np.stack([volumes[0], volumes[0] * 2])
    ds = VolumePatches([ziggurat.from_array(four, axes="czyx")], patch_size=8, samples_per_epoch=3, seed=0)
    s = ds[1]
    z, y, x = s["location"].tolist()
    np.testing.assert_array_equal(s["image"].numpy(), four[:, z : z + 8, y : y + 8, x : x + 8])


def test_positions_reproducible_and_new_every_epoch(volumes: list[np.ndarray]) -> None:
    images = [ziggurat.from_array(v, axes="zyx") for v in volumes]
    a = VolumePatches(images, patch_size=8, samples_per_epoch=20, seed=7)
    b = VolumePatches(images, patch_size=8, samples_per_epoch=20, seed=7)
    first = [a.position(i, 0) for i in range(20)]
    assert first == [b.position(i, 0) for i in range(20)]
    b.set_epoch(1)
    second = [b[i]["location"].tolist() for i in range(20)]
    assert second != [list(p[1]) for p in first]
    assert sum(p == q for p, q in zip(first, [b.position(i, 1) for i in range(20)])) <= 1
    other = VolumePatches(images, patch_size=8, samples_per_epoch=20, seed=8)
    assert first != [other.position(i, 0) for i in range(20)]


def test_slices_along_each_axis(volumes: list[np.ndarray]) -> None:
    vol = volumes[2]
    image = ziggurat.from_array(vol, axes="zyx")
    for axis, take in (("z", lambda k: vol[k]), ("y", lambda k: vol[:, k]), ("x", lambda k: vol[:, :, k])):
        ds = VolumeSlices([image], axis=axis, step=3)
        assert len(ds) == len(range(0, vol.shape["zyx".index(axis)], 3))
        s = ds[len(ds) - 1]
        k = s["location"].tolist()["zyx".index(axis)]
        np.testing.assert_array_equal(s["image"][0].numpy(), take(k))
        assert s["image"].ndim == 3


def test_file_backed_dataset_pickles_small_and_reopens(zarr_volume: Path) -> None:
    ds = VolumePatches([ziggurat.open(zarr_volume)] * 20, patch_size=16, samples_per_epoch=10, seed=4, max_open=2)
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000  # paths and positions, never pixels
    copy = pickle.loads(blob)
    assert copy.images._open is None  # nothing open until a sample is read
    for i in range(10):
        assert torch.equal(copy[i]["image"], ds[i]["image"])
    assert len(copy.images._open[1]) <= 2  # the LRU bounds open images


def test_bad_input_is_refused(volumes: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="volume"):
        VolumePatches([ziggurat.from_array(np.zeros((8, 8, 3), np.uint8))], patch_size=4)
    with pytest.raises(ValueError, match="overlap"):
        VolumePatches([ziggurat.from_array(volumes[0], axes="zyx")], patch_size=8, overlap=8)
    with pytest.raises(ValueError, match="cannot stack"):
        _entry_shape([ziggurat.from_array(v, axes="zyx") for v in volumes[:2]], 0)
    with pytest.raises(IndexError):
        VolumePatches([ziggurat.from_array(volumes[0], axes="zyx")], patch_size=8, samples_per_epoch=2)[2]
