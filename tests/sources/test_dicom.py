"""The dicom backend against pydicom (modality LUT applied): the tilted GE CT series, single files."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import ziggurat
from ziggurat.model.image import Image
from ziggurat.testing.sources import SourceTests, dicom_reference

pytest.importorskip("pydicom")


class TestDicom(SourceTests):
    backend = "dicom"
    read_reference = staticmethod(dicom_reference)

    @pytest.fixture(scope="class", params=["series-ct-ge-tilt", "single/pydicom_CT_small.dcm",
                                           "single/imageio_dicom_file02_enhanced_mr_multiframe.dcm"])  # fmt: skip
    @classmethod
    def path(cls, request: pytest.FixtureRequest, realdata: Path) -> Path:
        return realdata / "dicom" / request.param

    @pytest.fixture(scope="class")
    @classmethod
    def image(cls, path: Path) -> Iterator[Image]:
        with warnings.catch_warnings():  # the GE series has uneven slice steps (it warns, by design)
            warnings.simplefilter("ignore")
            image = ziggurat.open(path)
        with image:
            yield image
