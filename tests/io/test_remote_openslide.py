"""The openslide drop-in on s3:// URLs: same levels, properties and pixels as openslide-python on the
local file; formats ziggurat does not read remotely say they need a local file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ziggurat import openslide as zs
from ziggurat.testing.s3 import LocalS3

openslide = pytest.importorskip("openslide")


@pytest.fixture(params=["sample", "svs"])
def slide_path(request: pytest.FixtureRequest, sample_slide: Path) -> Path:
    if request.param == "sample":
        return sample_slide
    return request.getfixturevalue("realdata") / "svs" / "CMU-1-Small-Region.svs"


@pytest.fixture
def aws_env(s3: LocalS3, monkeypatch: pytest.MonkeyPatch) -> LocalS3:
    """The drop-in takes no storage options: the standard AWS variables point it at the server."""
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    return s3


def test_drop_in_on_a_url_reads_what_openslide_reads_locally(aws_env: LocalS3, slide_path: Path) -> None:
    url = aws_env.upload(slide_path, f"drop-in/{slide_path.name}")
    with zs.OpenSlide(url) as ours, openslide.OpenSlide(str(slide_path)) as theirs:
        assert ours.level_dimensions == theirs.level_dimensions
        assert ours.level_downsamples == pytest.approx(theirs.level_downsamples)
        for key in ("openslide.vendor", "openslide.mpp-x", "openslide.level-count", "tiff.ImageDescription"):
            assert ours.properties.get(key) == theirs.properties.get(key), key
        assert sorted(ours.associated_images) == sorted(theirs.associated_images)
        for level, (x, y) in ((0, (701, 333)), (ours.level_count - 1, (0, 0))):
            a = np.asarray(ours.read_region((x, y), level, (300, 200)))
            b = np.asarray(theirs.read_region((x, y), level, (300, 200)))
            assert np.array_equal(a, b), (level, x, y)
    assert zs.OpenSlide.detect_format(url) == openslide.OpenSlide.detect_format(str(slide_path))
    assert isinstance(zs.open_slide(url), zs.OpenSlide)


def test_formats_only_a_local_file_opens_say_so(aws_env: LocalS3, realdata: Path) -> None:
    url = aws_env.upload(realdata / "dicom/single/imageio_dicom_file01_philips_ct.dcm", "drop-in/ct.dcm")
    for opener in (zs.OpenSlide, zs.open_slide):
        with pytest.raises(zs.OpenSlideUnsupportedFormatError, match="need a local file"):
            opener(url)
    assert zs.OpenSlide.detect_format(url) is None
    with pytest.raises(zs.OpenSlideUnsupportedFormatError, match="no such object"):
        zs.open_slide(aws_env.url("drop-in/missing.svs"))
