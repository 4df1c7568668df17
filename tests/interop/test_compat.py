"""ziggurat.interop.openslide.OpenSlide answers as openslide.OpenSlide does: same names, PIL, same pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ziggurat.interop import openslide as compat

openslide = pytest.importorskip("openslide")


@pytest.fixture(params=["sample", "svs"])
def slide_path(request: pytest.FixtureRequest, sample_slide: Path) -> Path:
    if request.param == "sample":
        return sample_slide
    return request.getfixturevalue("realdata") / "svs/CMU-1-Small-Region.svs"


def test_same_api_same_pixels(slide_path: Path) -> None:
    ours, ref = compat.OpenSlide(slide_path), openslide.OpenSlide(slide_path)
    assert ours.level_count == ref.level_count
    assert ours.dimensions == ref.dimensions
    assert ours.level_dimensions == ref.level_dimensions
    assert ours.level_downsamples == pytest.approx(ref.level_downsamples)
    for key in (compat.PROPERTY_NAME_VENDOR, compat.PROPERTY_NAME_MPP_X, compat.PROPERTY_NAME_MPP_Y,
                compat.PROPERTY_NAME_OBJECTIVE_POWER, compat.PROPERTY_NAME_COMMENT):  # fmt: skip
        assert ours.properties.get(key) == ref.properties.get(key), key
    for d in (1, 1.5, 2, 3, 5, 64):
        assert ours.get_best_level_for_downsample(d) == ref.get_best_level_for_downsample(d)
    for location, level, size in [((0, 0), 0, (300, 200)), ((-20, 1500), 0, (400, 400)),
                                  ((1024, 512), ref.level_count - 1, (128, 96))]:  # fmt: skip
        a, b = ours.read_region(location, level, size), ref.read_region(location, level, size)
        assert a.mode == b.mode == "RGBA" and a.size == b.size
        assert np.abs(np.asarray(a, int) - np.asarray(b, int)).max() <= 2
    assert sorted(ours.associated_images) == sorted(ref.associated_images)
    thumb = ours.get_thumbnail((200, 200))
    assert max(thumb.size) == 200


def test_detect_format(slide_path: Path, tmp_path: Path) -> None:
    assert compat.OpenSlide.detect_format(slide_path) in ("generic-tiff", "aperio")
    text = tmp_path / "x.txt"
    text.write_text("hello")
    assert compat.OpenSlide.detect_format(text) is None
