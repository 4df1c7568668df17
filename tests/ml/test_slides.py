"""Slide patches against tifffile's pixels of the same pyramid level, and the Otsu tissue mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.ml import SlidePatches, otsu_threshold


@pytest.fixture(scope="module")
def sample_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated pyramidal JPEG slide: 1500 x 1000, 256 px tiles, levels 750 x 500 and 375 x 250."""
    from ziggurat.testing.sample import write_slide

    return write_slide(tmp_path_factory.mktemp("slides") / "small.tif", 1500, 1000)


@pytest.fixture(scope="module")
def levels(sample_slide: Path) -> list[np.ndarray]:
    with tifffile.TiffFile(sample_slide) as tif:
        return [page.asarray() for page in tif.pages]


def test_grid_patches_equal_tifffile(sample_slide: Path, levels: list[np.ndarray]) -> None:
    ds = SlidePatches([ziggurat.open(sample_slide)], patch_size=256, level=0)
    # rows 0, 256, 512 and 744 (flush with 1000); columns 0, 256, ..., 1024 and 1244 (flush with 1500)
    assert len(ds) == 4 * 6
    for i in (0, 5, len(ds) - 1):
        s = ds[i]
        x, y = s["location"].tolist()
        assert s["image"].shape == (3, 256, 256)
        np.testing.assert_array_equal(s["image"].numpy().transpose(1, 2, 0), levels[0][y : y + 256, x : x + 256])


def test_random_patches_at_a_level(sample_slide: Path, levels: list[np.ndarray]) -> None:
    ds = SlidePatches([ziggurat.open(sample_slide)], patch_size=128, level=1, samples_per_epoch=6, seed=5)
    for i in range(len(ds)):
        s = ds[i]
        x, y = (s["location"] // 2).tolist()  # level 1 of this pyramid halves exactly
        np.testing.assert_array_equal(s["image"].numpy().transpose(1, 2, 0), levels[1][y : y + 128, x : x + 128])
        assert s["level"] == 1
    ds.set_epoch(1)
    assert [ds.position(i, 0) for i in range(6)] != [ds.position(i, 1) for i in range(6)]


def test_otsu_matches_scikit_image() -> None:
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(90, 25, 5000), rng.normal(190, 20, 5000)]).clip(0, 255).astype(np.uint8)
    assert otsu_threshold(values) == threshold_otsu(values)


def test_tissue_mask_keeps_tissue_patches(sample_slide: Path, levels: list[np.ndarray]) -> None:
    image = ziggurat.open(sample_slide)
    every = SlidePatches([image], patch_size=256)
    tissue = SlidePatches([image], patch_size=256, tissue=True, min_tissue=0.5)
    assert 0 < len(tissue) < len(every)
    grey = levels[0].mean(axis=-1)
    thr = otsu_threshold(levels[-1].mean(axis=-1).astype(np.uint8)) + 1
    kept = {tuple(tissue[i]["location"].tolist()) for i in range(len(tissue))}
    for i in range(len(every)):
        x, y = every[i]["location"].tolist()
        fraction = float((grey[y : y + 256, x : x + 256] < thr).mean())
        if (x, y) in kept:
            assert fraction > 0.2  # the mask is a low level's, so allow its blur
        elif fraction > 0.9:
            pytest.fail(f"patch at {(x, y)} is {fraction:.0%} tissue but was dropped")
    random = SlidePatches([image], patch_size=256, tissue=True, samples_per_epoch=8, seed=1)
    for i in range(8):
        x, y = random[i]["location"].tolist()
        assert float((grey[y : y + 256, x : x + 256] < thr).mean()) > 0.2


def test_patches_at_a_target_mpp(sample_slide: Path, levels: list[np.ndarray]) -> None:
    from ziggurat.kernels.resize import resize_area

    image = ziggurat.open(sample_slide)
    assert image.mpp == (0.25, 0.25)  # levels 0, 1, 2: 0.25, 0.5 and 1 um per pixel
    exact = SlidePatches([image], patch_size=96, mpp=0.5, samples_per_epoch=4, seed=2)
    for i in range(4):
        s = exact[i]
        x, y = (s["location"] // 2).tolist()
        assert s["level"] == 1 and s["image"].shape == (3, 96, 96)
        np.testing.assert_array_equal(s["image"].numpy().transpose(1, 2, 0), levels[1][y : y + 96, x : x + 96])
    # 0.375 um: level 0 is the finest not finer than that; a 144 px footprint shrinks to 96 px by area
    between = SlidePatches([image], patch_size=96, mpp=0.375, samples_per_epoch=4, seed=2)
    for i in range(4):
        s = between[i]
        x, y = s["location"].tolist()
        assert s["level"] == 0
        truth = resize_area(levels[0][y : y + 144, x : x + 144], 96, 96)
        np.testing.assert_array_equal(s["image"].numpy().transpose(1, 2, 0), truth)
    grid = SlidePatches([image], patch_size=100, mpp=1.0)  # level 2 (375 x 250): 4 x 3 cells, last ones flush
    assert len(grid) == 4 * 3 and grid[len(grid) - 1]["location"].tolist() == [(375 - 100) * 4, (250 - 100) * 4]
    with pytest.raises(ValueError, match="mpp"):
        SlidePatches([ziggurat.from_array(levels[2])], patch_size=32, mpp=0.5)


def test_over_a_slide_cohort_masks_are_stored_once_and_labels_come_from_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from ziggurat.cohort import ingest
    from ziggurat.ml import slides as module
    from ziggurat.testing.cohorts import write_slide_folder

    folder, manifest = write_slide_folder(tmp_path / "slides", slides=2, size=(640, 480))
    report = ingest(folder, tmp_path / "cohort", manifest=manifest, workers=1)
    first = SlidePatches(ziggurat.Cohort(report.root), patch_size=128, tissue=True, labels=("label",))
    cohort = ziggurat.Cohort(report.root)  # the mask went into a new table generation
    stored = cohort.images_table().set_index("image_id")["tissue_mask"]
    for image_id in first.images.stored["image_id"]:
        mask, scale = module.decode_mask(stored[image_id])
        truth, truth_scale = module.tissue_mask(ziggurat.open(folder / f"{image_id}.tif"))
        np.testing.assert_array_equal(mask, truth)
        assert scale == truth_scale
    monkeypatch.setattr(module, "tissue_mask", lambda image: pytest.fail("the stored mask was not used"))
    again = SlidePatches(cohort, patch_size=128, tissue=True, labels=("label",))
    assert again.grid == first.grid and len(again) > 0
    table = pd.read_csv(manifest)
    labels = dict(zip(table.slide.str.removesuffix(".tif"), table.label))
    for i in (0, len(again) - 1):
        s = again[i]
        assert s["label"] == labels[again.images.stored["image_id"][s["index"]]]
