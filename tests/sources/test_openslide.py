"""The openslide backend, forced on SVS files, against openslide-python itself."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from ziggurat.testing.sources import SourceTests, openslide_reference

pytest.importorskip("openslide")

FRACTIONAL = (
    "sources/openslide.py OpenSlideLevel.read: location = round(x * downsample) maps back to a fractional "
    "level offset when the downsample is not an integer (2.000506 here), and openslide resamples: level-1 "
    "boxes differ from openslide's own level-1 pixels"
)


class TestOpenSlide(SourceTests):
    """CMU-1-Small-Region: one level."""

    backend = "openslide"
    detected = "tiff"  # the tiff backend ranks above openslide for .svs
    open_options: ClassVar[dict[str, str]] = {"backend": "openslide"}
    read_reference = staticmethod(openslide_reference)

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, realdata: Path) -> Path:
        return realdata / "svs" / "CMU-1-Small-Region.svs"


class TestOpenSlidePyramid(TestOpenSlide):
    """The TCGA JPEG 2000 SVS: two levels, downsample 2.000506."""

    xfail: ClassVar[dict[str, str]] = dict.fromkeys(
        ["test_boxes", "test_slicing", "test_pickle", "test_workers", "test_threads", "test_slide_view"], FRACTIONAL
    )

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, realdata: Path) -> Path:
        return realdata / "svs" / "tcga-cr-7395-01a-01-ts1.svs"
