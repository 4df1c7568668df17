"""The CLI on URLs: ``pyramid`` reads and writes s3://, ``info`` reads it (``convert`` and ``serve``:
test_remote_readme.py runs the README's commands)."""

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


def test_pyramid_and_info_on_s3(s3: LocalS3, sample_slide: Path) -> None:
    slide = s3.upload(sample_slide, "cli/slide.tif")
    done = _cli(s3, "pyramid", slide, s3.url("cli/slide.zarr"))
    assert done.returncode == 0, done.stderr
    assert not Path("s3:").exists()  # no local folder named after the scheme
    remote = ziggurat.open(s3.url("cli/slide.zarr"), storage_options=s3.storage_options)
    level = ziggurat.open(sample_slide).levels[0]
    box = ((0, 300), (0, 400), (0, 3))
    assert np.array_equal(np.moveaxis(remote.levels[0].read(((0, 3), (0, 300), (0, 400))), 0, -1), level.read(box))
    done = _cli(s3, "info", s3.url("cli/slide.zarr"))
    assert done.returncode == 0 and "ome-zarr" in done.stdout, done.stderr


def test_info_on_a_dicom_wsi_prefix(s3: LocalS3, realdata: Path) -> None:
    s3.upload(realdata / "dicom-wsi/pathml_small_dicom.dcm", "cli/dicom/slide.dcm")
    done = _cli(s3, "info", s3.url("cli/dicom/"))
    assert done.returncode == 0 and "dicomwsi" in done.stdout and "3236" in done.stdout, done.stderr


def test_unsupported_schemes_exit_2(s3: LocalS3) -> None:
    done = _cli(s3, "info", "gs://bucket/slide.svs")
    assert done.returncode == 2 and "unsupported URL scheme" in done.stderr
