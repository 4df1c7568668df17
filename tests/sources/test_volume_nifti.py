"""NIfTI -> Volume -> OME-Zarr -> NIfTI on the real files, checked against nibabel."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import ziggurat
from ziggurat.errors import CorruptImageError
from ziggurat.writers.convert import convert

nib = pytest.importorskip("nibabel")

FILES = [
    "anatomical.nii",  # big-endian int16, 3-D
    "avg152T1_LR_nifti.nii.gz",  # LAS orientation
    "example4d.nii.gz",  # 4-D
    "example_nifti2.nii.gz",  # NIfTI-2
    "small_64D.nii",  # PLS, 65 volumes
]


@pytest.mark.parametrize("name", FILES)
def test_round_trip_is_exact(realdata: Path, tmp_path: Path, name: str) -> None:
    src = realdata / "nifti" / name
    ref = nib.load(src)
    expected = np.asanyarray(ref.dataobj)

    opened = ziggurat.open(src)
    assert opened.axes in ("zyx", "tzyx") and opened.is_volume
    # documented mapping: volume [t,] z, y, x == NIfTI (i, j, k[, t]) transposed
    np.testing.assert_array_equal(opened.to_numpy(), expected.T)
    np.testing.assert_array_equal(opened.affine, ref.affine)
    zooms = ref.header.get_zooms()
    assert opened.spacing == pytest.approx((zooms[2], zooms[1], zooms[0]))

    store = convert(src, tmp_path / "v.zarr", chunks=(4, 16, 16))
    vol = ziggurat.open(store)
    assert vol.axes == ("t" if expected.ndim == 4 else "") + "zyx"
    np.testing.assert_array_equal(vol.to_numpy(), expected.T)
    np.testing.assert_array_equal(vol.affine, ref.affine)
    assert nib.aff2axcodes(vol.affine) == nib.aff2axcodes(ref.affine)

    back = convert(store, tmp_path / f"back{''.join(src.suffixes)}")
    again = nib.load(back)
    np.testing.assert_array_equal(np.asanyarray(again.dataobj), expected)
    assert again.header.binaryblock == ref.header.binaryblock
    assert again.get_data_dtype() == ref.get_data_dtype()


def test_lazy_slices_match_nibabel(realdata: Path) -> None:
    src = realdata / "nifti" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    data = np.asanyarray(nib.load(src).dataobj)  # (i, j, k)
    vol = ziggurat.open(src)
    np.testing.assert_array_equal(vol.axial(90), data[:, :, 90].T)
    np.testing.assert_array_equal(vol.coronal(100), data[:, 100, :].T)
    np.testing.assert_array_equal(vol.sagittal(98), data[98, :, :].T)
    np.testing.assert_array_equal(vol[10:20, 30:40, 50:60], data[50:60, 30:40, 10:20].T)


def test_truncated_gzip_raises_typed_error(realdata: Path, tmp_path: Path) -> None:
    raw = (realdata / "nifti" / "avg152T1_LR_nifti.nii.gz").read_bytes()
    bad = tmp_path / "truncated.nii.gz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptImageError, match=r"truncated\.nii\.gz"):
        ziggurat.open(bad).to_numpy()


def test_not_gzip_raises_typed_error(tmp_path: Path) -> None:
    bad = tmp_path / "junk.nii.gz"
    bad.write_bytes(gzip.compress(b"not a nifti header at all")[:10])
    with pytest.raises(CorruptImageError, match=r"junk\.nii\.gz"):
        ziggurat.open(bad)
