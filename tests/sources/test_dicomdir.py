"""DICOMDIR media sets and folders of mixed DICOM: the series listing against pydicom's FileSet, and each
series opened (``series=uid``) against pydicom's pixels."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import ziggurat
from ziggurat.errors import UnsupportedFormatError
from ziggurat.model.image import Image
from ziggurat.sources.dicomdir import list_series
from ziggurat.testing.sources import SourceTests, dicom_reference

pydicom = pytest.importorskip("pydicom")
from pydicom.fileset import FileSet  # noqa: E402
from pydicom.pixels import apply_modality_lut  # noqa: E402

MEDIA = "dicom/dicomdir-pydicom"
SMARTSCORE = "1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6"  # the media set's 5-slice CT series


def _linked(folder: Path, files: list[Path]) -> Path:
    """``files`` as ``.dcm`` symlinks in ``folder`` (what dicom_reference reads as one series)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        (folder / f"{i:03d}.dcm").symlink_to(f)
    return folder


def test_listing_matches_pydicom_fileset(realdata: Path) -> None:
    fileset = FileSet(pydicom.dcmread(realdata / MEDIA / "DICOMDIR"))
    counts = Counter(str(i.SeriesInstanceUID) for i in fileset)
    listed = list_series(realdata / MEDIA / "DICOMDIR")
    assert {s.uid: s.instances for s in listed} == dict(counts)
    assert {s.modality for s in listed} == {"CR", "CT", "MR"}
    by_uid = {s.uid: s for s in listed}
    assert by_uid[SMARTSCORE].description == "SmartScore - Gated 0.5 sec"
    # the folder without its DICOMDIR lists the same series from the files' headers
    assert {s.uid: s.instances for s in list_series(realdata / MEDIA)} == dict(counts)


def test_every_series_opens(realdata: Path) -> None:
    media = realdata / MEDIA / "DICOMDIR"
    with pytest.raises(UnsupportedFormatError, match="13 series; open one with series=UID"):
        ziggurat.open(media)
    for info in list_series(media):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # localizer series warn: three orientations stacked
            image = ziggurat.open(media, series=info.uid)
        with image:
            assert image.backend == "dicomdir"
            assert image.axes == "zyx" and image.shape[0] == info.instances
            if info.instances == 1:
                ds = pydicom.dcmread(info.files[0])
                truth = apply_modality_lut(ds.pixel_array, ds)
                # float rescales: ours in float32, pydicom's in float64
                np.testing.assert_allclose(np.asarray(image[0]), truth, rtol=1e-6, err_msg=info.uid)


class TestMediaSetSeries(SourceTests):
    """One series of the media set through the DICOMDIR, against pydicom on its files alone."""

    backend = "dicomdir"
    open_options: ClassVar[dict[str, str]] = {"series": SMARTSCORE}

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, realdata: Path) -> Path:
        return realdata / MEDIA / "DICOMDIR"

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls, path: Path, tmp_path_factory: pytest.TempPathFactory) -> object:
        (info,) = [s for s in list_series(path) if s.uid == SMARTSCORE]
        return dicom_reference(_linked(tmp_path_factory.mktemp("series"), list(info.files)))


class TestMixedFolder(SourceTests):
    """A flat folder holding a CT series and two unrelated MR files: ``series=`` picks the CT."""

    backend = "dicom"
    detected = "dicom"

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = _linked(tmp_path_factory.mktemp("mixed"), sorted((realdata / "dicom/series-ct-ge-tilt").iterdir()))
        for name in ("pydicom_MR_small.dcm", "nibabel_siemens_0.dcm"):
            (folder / name).symlink_to(realdata / "dicom/single" / name)
        return folder

    @pytest.fixture(scope="class")
    @classmethod
    def image(cls, path: Path) -> Iterator[Image]:
        with pytest.raises(UnsupportedFormatError, match="3 DICOM series mixed; open one with series=UID"):
            ziggurat.open(path)
        uid = str(pydicom.dcmread(path / "000.dcm", stop_before_pixels=True).SeriesInstanceUID)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the GE series has uneven slice steps (it warns, by design)
            image = ziggurat.open(path, series=uid)
        with image:
            yield image

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls, realdata: Path) -> object:
        return dicom_reference(realdata / "dicom/series-ct-ge-tilt")
