"""DICOM series -> Volume -> OME-Zarr, checked against pydicom's own values and headers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import ziggurat
from ziggurat.errors import UnsupportedFormatError
from ziggurat.sources.dicom import UnevenSpacingWarning
from ziggurat.writers.convert import convert

pydicom = pytest.importorskip("pydicom")


def _truth(folder: Path) -> tuple[np.ndarray, list]:
    """Slices sorted by position along the normal, with the modality LUT applied by pydicom."""
    from pydicom.pixels import apply_modality_lut

    datasets = [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda ds: float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal)))
    return np.stack([apply_modality_lut(ds.pixel_array, ds) for ds in datasets]), datasets


def test_tilted_ge_series_round_trip(realdata: Path, tmp_path: Path) -> None:
    folder = realdata / "dicom" / "series-ct-ge-tilt"
    expected, datasets = _truth(folder)
    with pytest.warns(UnevenSpacingWarning, match="series-ct-ge-tilt"):
        vol = ziggurat.open(folder)
    np.testing.assert_array_equal(vol.to_numpy(), expected)

    row_mm, col_mm = (float(v) for v in datasets[0].PixelSpacing)
    assert vol.spacing[1:] == pytest.approx((row_mm, col_mm))
    # every slice lands exactly where its ImagePositionPatient says (LPS -> RAS flips x and y)
    first = np.array(datasets[0].ImagePositionPatient, dtype=float)
    last = np.array(datasets[-1].ImagePositionPatient, dtype=float)
    flip = np.array([-1, -1, 1])
    np.testing.assert_allclose(vol.affine[:3, 3], first * flip)
    np.testing.assert_allclose((vol.affine @ [0, 0, len(datasets) - 1, 1])[:3], last * flip, atol=1e-6)
    # in-plane directions are the header's direction cosines
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    np.testing.assert_allclose(vol.affine[:3, 0] / col_mm, iop[:3] * flip, atol=1e-6)
    np.testing.assert_allclose(vol.affine[:3, 1] / row_mm, iop[3:] * flip, atol=1e-6)
    positions = [[float(v) for v in ds.ImagePositionPatient] for ds in datasets]
    np.testing.assert_allclose(vol.metadata.extra["dicom"]["positions"], positions)
    assert vol.metadata.extra["dicom"]["even_spacing"] is False

    with pytest.warns(UnevenSpacingWarning):
        store = convert(folder, tmp_path / "ct.zarr", chunks="axial")
    again = ziggurat.open(store)
    np.testing.assert_array_equal(again.to_numpy(), expected)
    np.testing.assert_array_equal(again.affine, vol.affine)
    assert again.spacing == vol.spacing
    assert again.metadata.extra["dicom"]["positions"] == vol.metadata.extra["dicom"]["positions"]


def test_uneven_series_can_be_refused(realdata: Path) -> None:
    from ziggurat.sources.dicom import DicomSource

    with pytest.raises(UnsupportedFormatError, match="slice steps"):
        DicomSource(str(realdata / "dicom" / "series-ct-ge-tilt"), uneven="error")


def test_even_subset_has_header_spacing(realdata: Path, tmp_path: Path) -> None:
    folder = tmp_path / "even"
    folder.mkdir()
    for i in range(1, 8):  # slices 1-7: 4 mm thick, contiguous
        shutil.copy(realdata / "dicom" / "series-ct-ge-tilt" / f"{i:02d}.dcm", folder)
    (folder / "notes.txt").write_text("not a slice")
    vol = ziggurat.open(folder)
    thickness = float(pydicom.dcmread(folder / "01.dcm").SliceThickness)
    assert vol.spacing[0] == pytest.approx(thickness, rel=1e-3)
    assert vol.metadata.extra["dicom"]["even_spacing"] is True
    assert vol.shape == (7, 512, 512)


def test_mixed_series_is_rejected(realdata: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(realdata / "dicom" / "series-ct-ge-tilt" / "01.dcm", folder / "a.dcm")
    shutil.copy(realdata / "dicom" / "single" / "pydicom_CT_small.dcm", folder / "b.dcm")
    with pytest.raises(UnsupportedFormatError, match="2 DICOM series"):
        ziggurat.open(folder)


def test_single_file_rescaled(realdata: Path) -> None:
    path = realdata / "dicom" / "single" / "pydicom_CT_small.dcm"
    from pydicom.pixels import apply_modality_lut

    ds = pydicom.dcmread(path)
    vol = ziggurat.open(path)
    np.testing.assert_array_equal(vol.axial(0), apply_modality_lut(ds.pixel_array, ds))
    assert vol.spacing[1:] == pytest.approx([float(v) for v in ds.PixelSpacing])


@pytest.mark.parametrize("variant", ["bigendian", "RLE", "jp2klossless", "jpeg_ls_lossless"])
def test_lossless_encodings_agree(realdata: Path, variant: str) -> None:
    """One MR image stored five ways: every lossless encoding must give pydicom's plain-file voxels."""
    single = realdata / "dicom" / "single"
    expected = pydicom.dcmread(single / "pydicom_MR_small.dcm").pixel_array
    np.testing.assert_array_equal(ziggurat.open(single / f"pydicom_MR_small_{variant}.dcm").axial(0), expected)


def test_not_dicom_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10")
    with pytest.raises(ziggurat.errors.ZigguratError, match=r"bad\.dcm"):
        ziggurat.open(bad)


def test_ct_plane_through_tile_engine(realdata: Path) -> None:
    """A sagittal plane of the CT, served as a DeepZoom tile with a CT bone window."""
    import imagecodecs

    expected, _ = _truth(realdata / "dicom" / "series-ct-ge-tilt")
    with pytest.warns(UnevenSpacingWarning):
        vol = ziggurat.open(realdata / "dicom" / "series-ct-ge-tilt")
    image = ziggurat.plane(vol, "sagittal", 300)
    assert image.dimensions == (512, 28)  # width = y (rows), height = z (slices)
    png = ziggurat.TileService("none://").tile(image, 9, 1, 0, tile_size=256, style="ct-bone", encoding="png")
    got = imagecodecs.png_decode(png)
    window = np.clip((expected[:, 256:512, 300].astype(np.float32) + 500) / 1800, 0, 1)
    np.testing.assert_array_equal(got[..., 0], np.rint(window * 255).astype(np.uint8))
