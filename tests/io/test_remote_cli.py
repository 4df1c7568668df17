"""The CLI on URLs: ``convert`` and ``pyramid`` write OME-Zarr to s3://, ``info`` reads from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import ziggurat
from ziggurat.testing.s3 import LocalS3


def _cli(s3: LocalS3, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **s3.environment()}
    return subprocess.run([sys.executable, "-m", "ziggurat.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip


def test_convert_pyramid_and_info_on_s3(s3: LocalS3, realdata: Path, sample_slide: Path, tmp_path: Path) -> None:
    nifti = realdata / "nifti" / "avg152T1_LR_nifti.nii.gz"
    done = _cli(s3, "convert", str(nifti), s3.url("cli/brain.zarr"))
    assert done.returncode == 0, done.stderr
    assert not Path("s3:").exists()
    assert "cli/brain.zarr/zarr.json" in s3.keys("cli/")
    remote = ziggurat.open(s3.url("cli/brain.zarr"), storage_options=s3.storage_options)
    assert np.array_equal(remote.to_numpy(), ziggurat.open(nifti).to_numpy())
    slide = s3.upload(sample_slide, "cli/slide.tif")
    done = _cli(s3, "pyramid", slide, s3.url("cli/slide.zarr"))
    assert done.returncode == 0, done.stderr
    done = _cli(s3, "info", s3.url("cli/slide.zarr"))
    assert done.returncode == 0 and "ome-zarr" in done.stdout, done.stderr


def test_unsupported_schemes_exit_2(s3: LocalS3) -> None:
    done = _cli(s3, "info", "gs://bucket/slide.svs")
    assert done.returncode == 2 and "unsupported URL scheme" in done.stderr
