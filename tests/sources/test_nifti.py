"""The nifti backend against nibabel, on realdata (NIfTI-1 4-D gz, big-endian .nii, NIfTI-2)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from ziggurat.testing.sources import SourceTests, nifti_reference

pytest.importorskip("nibabel")


class TestNifti(SourceTests):
    backend = "nifti"
    read_reference = staticmethod(nifti_reference)
    xfail: ClassVar[dict[str, str]] = {
        "test_empty_boxes": "sources/nifti.py NiftiReader.read: nibabel's proxy raises OSError EINVAL on an empty "
        "slice, reported as CorruptImageError('cannot read voxels') instead of an empty array",
        **dict.fromkeys(
            ["test_reads_are_new_arrays[example4d.nii.gz]", "test_reads_are_new_arrays[example_nifti2.nii.gz]"],
            "sources/nifti.py NiftiReader.read: np.ascontiguousarray(block.T) returns nibabel's read-only "
            "array itself when the transpose is already contiguous (e.g. a single voxel)",
        ),
    }

    @pytest.fixture(scope="class", params=["example4d.nii.gz", "anatomical.nii", "example_nifti2.nii.gz"])
    @classmethod
    def path(cls, request: pytest.FixtureRequest, realdata: Path) -> Path:
        return realdata / "nifti" / request.param
