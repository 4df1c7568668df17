"""Backends: the registry, the openslide backend against the TIFF backend, Pillow images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import ziggurat
from ziggurat.errors import UnsupportedFormatError
from ziggurat.sources.registry import backends


def test_registry_lists_builtin_backends() -> None:
    assert {"tiff", "openslide", "pillow"} <= set(backends())


def test_unknown_backend_is_a_typed_error(sample_slide: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match="unknown backend 'nope'"):
        ziggurat.open(sample_slide, backend="nope")


def test_tiff_backend_is_chosen_for_tiff(sample_slide: Path) -> None:
    with ziggurat.open(sample_slide) as image:
        assert image.backend == "tiff"


def test_openslide_backend_matches_tiff_backend(sample_slide: Path) -> None:
    pytest.importorskip("openslide")
    with ziggurat.open(sample_slide, backend="openslide") as via_openslide, ziggurat.open(sample_slide) as ours:
        assert via_openslide.backend == "openslide"
        assert via_openslide.level_dimensions == ours.level_dimensions
        assert via_openslide.mpp == pytest.approx(ours.mpp)
        for level in range(ours.level_count):
            a = via_openslide.read_region((700, 300), level, (301, 257))
            b = ours.read_region((700, 300), level, (301, 257))
            assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_pillow_backend(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, (90, 130, 3), dtype=np.uint8)
    path = tmp_path / f"picture.{suffix}"
    PILImage.fromarray(data).save(path, quality=95)
    truth = np.asarray(PILImage.open(path).convert("RGB"))
    with ziggurat.open(path) as image:
        assert image.backend == "pillow" and image.dimensions == (130, 90)
        np.testing.assert_array_equal(image.read_region((10, 20), 0, (50, 40)), truth[20:60, 10:60])
    if suffix == "png":
        np.testing.assert_array_equal(truth, data)
