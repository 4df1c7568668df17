"""The grid aggregator: the identity network's outputs stitched back equal the source (a volume with
overlapping patches, a slide level), and per-patch values build a slide-level map (checked by hand)."""

from __future__ import annotations

import numpy as np

import ziggurat
from ziggurat.ml import GridAggregator, SlidePatches, VolumePatches, loader


def test_identity_outputs_rebuild_the_volume(volumes: list[np.ndarray]) -> None:
    images = [ziggurat.from_array(v, axes="zyx") for v in volumes[:2]]
    ds = VolumePatches(images, patch_size=(12, 16, 20), overlap=(4, 5, 6))
    stitched = GridAggregator(ds)
    for batch in loader(ds, 16):
        stitched.add(batch["image"], batch)  # the identity network
    for k, volume in enumerate(volumes[:2]):
        np.testing.assert_allclose(stitched.result(k)[0], volume, rtol=1e-6)


def test_identity_outputs_rebuild_a_slide_and_halved_outputs_a_half_map() -> None:
    rgb = np.random.default_rng(3).integers(0, 255, (100, 130, 3), dtype=np.uint8)
    ds = SlidePatches([ziggurat.from_array(rgb)], patch_size=32, overlap=8)
    whole, half, cells = GridAggregator(ds), GridAggregator(ds), GridAggregator(ds)
    for batch in loader(ds, 8):
        pixels = batch["image"].float()
        whole.add(pixels, batch)
        half.add(pixels[:, :, ::2, ::2], batch)  # a network that halves its input
        cells.add(pixels.mean(dim=(2, 3)), batch)  # one value per patch
    np.testing.assert_allclose(whole.result(0), rgb.transpose(2, 0, 1).astype(np.float32))
    assert half.result(0).shape == (3, 50, 65)
    # grid origins 0, 24, 48, 68 (rows) and 0, 24, 48, 72, 96, 98 (columns): cells of 32 px, by hand
    corner = cells.result(0)
    assert corner.shape == (3, 4, 5)  # ceil(100 / 32), ceil(130 / 32)
    np.testing.assert_allclose(corner[:, 0, 0], rgb[:32, :32].reshape(-1, 3).mean(axis=0), rtol=1e-5)
