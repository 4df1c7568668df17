"""The dicomwsi backend against pydicom's decoded frames: generated TILED_FULL / TILED_SPARSE /
concatenated series in four codecs, and the realdata file (42 column-major JPEG frames, no
DimensionOrganizationType)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ziggurat
from ziggurat.errors import UnsupportedFormatError
from ziggurat.testing.dicomwsi import dicomwsi_reference, slide_pixels, write_dicom_wsi
from ziggurat.testing.sources import SourceTests, assert_same

pytest.importorskip("pydicom")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the realdata file's long UIDs

# name: write_dicom_wsi keywords
GENERATED = {
    "full-jpeg": {"codec": "jpeg"},
    "sparse-jpeg2000": {"codec": "jpeg2000", "sparse": True},
    "concatenated-jpegls": {"codec": "jpegls", "concatenation": True},
    "full-native-2-levels": {"codec": "native", "levels": 2, "tile": 96},
}
REALDATA = "dicom-wsi/pathml_small_dicom.dcm"


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, list[np.ndarray], dict[str, np.ndarray]]]:
    pixels = slide_pixels(500, 620)
    out = {}
    for name, options in GENERATED.items():
        folder = tmp_path_factory.mktemp("dicomwsi") / name
        out[name] = (folder, *write_dicom_wsi(folder, pixels, **options))
    return out


class TestGenerated(SourceTests):
    backend = "dicomwsi"
    read_reference = staticmethod(dicomwsi_reference)

    @pytest.fixture(scope="class", params=sorted(GENERATED), ids=str)
    @classmethod
    def path(cls, request: pytest.FixtureRequest, generated: dict[str, tuple[Path, ...]]) -> Path:
        return generated[request.param][0]


class TestRealdata(SourceTests):
    backend = "dicomwsi"

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, realdata: Path) -> Path:
        return realdata / REALDATA

    @classmethod
    def read_reference(cls, path: Path) -> object:
        # column-major is the README's finding (only it gives coherent tissue); pydicom's Pillow decode of
        # this file's RGB-labelled YCbCr JPEGs differs from libjpeg-turbo's by one level in 105 values,
        # checked by test_pydicom_decode_agrees
        return dicomwsi_reference(path, frame_order="column", jpeg="libjpeg-turbo")


def test_lossless_sets_equal_the_encoded_pixels(generated: dict[str, tuple[Path, list[np.ndarray], dict]]) -> None:
    """An exact truth beside pydicom: lossless codecs give back the pixels written, levels and associated."""
    for name in ("concatenated-jpegls", "full-native-2-levels"):
        folder, levels, associated = generated[name]
        with ziggurat.open(folder) as image:
            assert len(image.levels) == len(levels)
            for level, truth in zip(image.levels, levels):
                assert_same(np.asarray(level[...]), truth, f"{name} level")
            assert sorted(image.associated_images) == ["label", "macro"]
            for key, truth in associated.items():
                assert_same(image.associated_images[key], truth, f"{name} {key}")


def test_metadata_and_pass_through(generated: dict[str, tuple[Path, ...]]) -> None:
    folder = generated["full-jpeg"][0]
    one_file = folder / "level1-1.dcm"
    with ziggurat.open(one_file) as image:  # one instance opens its whole series
        assert image.level_count == 3
        assert image.mpp == pytest.approx((0.25, 0.25))
        assert image.objective_power == 40
        assert image.format == "dicom-wsi"
        level = image.levels[1]
        (raw,) = level.raw_tiles([(0, 1)])
        import imagecodecs

        th, tw = level.chunks[:2]
        assert_same(imagecodecs.jpeg8_decode(raw), np.asarray(level[:th, tw : 2 * tw]), "raw tile")
    with ziggurat.open(generated["sparse-jpeg2000"][0]) as image:
        assert image.levels[0].raw_tiles([(0, 0)]) is None  # JPEG 2000 frames are decoded


def test_frame_order_detected_on_realdata(realdata: Path) -> None:
    with ziggurat.open(realdata / REALDATA) as auto, ziggurat.open(realdata / REALDATA, frame_order="column") as col:
        assert_same(np.asarray(auto.levels[0][...]), np.asarray(col.levels[0][...]), "auto frame order")


def test_two_series_in_a_folder_need_a_choice(tmp_path: Path) -> None:
    pixels = slide_pixels(200, 200)
    write_dicom_wsi(tmp_path, pixels, levels=1)
    write_dicom_wsi(tmp_path / "b", pixels, levels=1)
    for f in (tmp_path / "b").iterdir():
        f.rename(tmp_path / f"b-{f.name}")
    with pytest.raises(UnsupportedFormatError, match="2 whole-slide series"):
        ziggurat.open(tmp_path)


def test_pydicom_decode_agrees(realdata: Path) -> None:
    """pydicom's own decode (Pillow) of the realdata frames is within one grey level of what we read."""
    path = realdata / REALDATA
    truth = dicomwsi_reference(path, frame_order="column").levels[0]
    with ziggurat.open(path) as image:
        ours = np.asarray(image.levels[0][...])
    assert np.abs(ours.astype(int) - truth).max() <= 1
    assert np.count_nonzero(ours != truth) < 1e-4 * ours.size
