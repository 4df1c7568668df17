"""Label- and weight-driven patch centres (counted against the map by hand) and whole Volumes
cropped or padded to a shape (against NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

import ziggurat
from ziggurat.ml import VolumePatches, Volumes


@pytest.fixture(scope="module")
def labelled() -> tuple[np.ndarray, np.ndarray]:
    """A noise volume and its label map: label 1 in a 6^3 cube (about 2% of the voxels), label 2 in a slab."""
    volume = np.random.default_rng(0).normal(size=(24, 28, 32)).astype(np.float32)
    labels = np.zeros(volume.shape, np.uint8)
    labels[9:15, 10:16, 12:18] = 1
    labels[:, :, 26:30] = 2
    return volume, labels


def _centre_labels(ds: VolumePatches, labels: np.ndarray, n: int) -> np.ndarray:
    origins = np.array([ds.position(i, 0)[1] for i in range(n)])
    centres = origins + np.array(ds.patch) // 2
    return labels[tuple(centres.T)]


def test_label_probabilities_are_honoured(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    volume, labels = labelled
    image, label_map = ziggurat.from_array(volume, axes="zyx"), ziggurat.from_array(labels, axes="zyx")
    ds = VolumePatches([image], patch_size=8, samples_per_epoch=2000, seed=1, sampling_map=[label_map],
                       label_probabilities={0: 0.2, 1: 0.5, 2: 0.3})  # fmt: skip
    found = _centre_labels(ds, labels, len(ds))
    for label, chance in ((0, 0.2), (1, 0.5), (2, 0.3)):
        assert abs((found == label).mean() - chance) < 0.04  # 2000 draws: ~4 standard deviations
    uniform = VolumePatches([image], patch_size=8, samples_per_epoch=2000, seed=1)
    assert (_centre_labels(uniform, labels, 2000) == 1).mean() < 0.05  # what the cube gets without weights
    s = ds[0]
    z, y, x = s["location"].tolist()
    np.testing.assert_array_equal(s["target"][0].numpy(), labels[z : z + 8, y : y + 8, x : x + 8])
    np.testing.assert_array_equal(s["image"][0].numpy(), volume[z : z + 8, y : y + 8, x : x + 8])


def test_weights_draw_centres_in_proportion(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    volume, _ = labelled
    weights = np.zeros(volume.shape, np.float32)
    weights[10, 10:14, 10:14] = 1.0  # 16 voxels of weight 1 and 16 of weight 3: 1:3
    weights[14, 16:20, 20:24] = 3.0
    ds = VolumePatches([ziggurat.from_array(volume, axes="zyx")], patch_size=(4, 6, 6), samples_per_epoch=1200,
                       seed=2, sampling_map=[ziggurat.from_array(weights, axes="zyx")])  # fmt: skip
    found = _centre_labels(ds, weights, len(ds))
    assert set(np.unique(found)) == {1.0, 3.0}
    assert abs((found == 3.0).mean() - 0.75) < 0.05


def test_whole_volumes_cropped_and_padded_to_a_shape(volumes: list[np.ndarray]) -> None:
    images = [ziggurat.from_array(v, axes="zyx") for v in volumes]  # (40,48,56), (36,52,44), (30,40,40)
    ds = Volumes(images, shape=(33, 50, 41))
    assert len(ds) == 3
    batch = ds[[0, 1, 2]]
    assert batch["image"].shape == (3, 1, 33, 50, 41)
    for k, vol in enumerate(volumes):
        truth = np.zeros((33, 50, 41), np.float32)
        origin = [(n - s) // 2 if n >= s else -((s - n) // 2) for n, s in zip(vol.shape, (33, 50, 41))]
        src = tuple(slice(max(o, 0), max(o, 0) + min(n, s)) for o, n, s in zip(origin, vol.shape, (33, 50, 41)))
        dst = tuple(slice(max(-o, 0), max(-o, 0) + min(n, s)) for o, n, s in zip(origin, vol.shape, (33, 50, 41)))
        truth[dst] = vol[src]
        np.testing.assert_array_equal(batch["image"][k, 0].numpy(), truth)
    # volume 0 (40, 48, 56) -> crop z from 3, pad y by 1 before and 1 after, crop x from 7: by hand
    np.testing.assert_array_equal(batch["image"][0, 0, :, 1:49, :].numpy(), volumes[0][3:36, :, 7:48])
    assert batch["location"][0].tolist() == [3, -1, 7]
    whole = Volumes(images[:1])[0]["image"][0].numpy()
    np.testing.assert_array_equal(whole, volumes[0])
