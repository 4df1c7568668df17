"""The nifti backend against nibabel, on realdata (NIfTI-1 4-D gz, big-endian .nii, NIfTI-2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ziggurat.testing.sources import SourceTests, nifti_reference

pytest.importorskip("nibabel")


class TestNifti(SourceTests):
    backend = "nifti"
    read_reference = staticmethod(nifti_reference)

    @pytest.fixture(scope="class", params=["example4d.nii.gz", "anatomical.nii", "example_nifti2.nii.gz"])
    @classmethod
    def path(cls, request: pytest.FixtureRequest, realdata: Path) -> Path:
        return realdata / "nifti" / request.param
