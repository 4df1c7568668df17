"""The README's object-storage example runs as written (on moto), and so do its two commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ziggurat
from ziggurat.io import locations
from ziggurat.testing.s3 import LocalS3

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text()
    return text[text.index("Object storage: every path") :]


def test_readme_python_example(sample_slide: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("moto.server")
    code = re.search(r"```python\n(.*?)```", _section(), re.S)
    assert code is not None
    shutil.copy(sample_slide, tmp_path / "slide.tif")
    monkeypatch.chdir(tmp_path)
    # storage_options= configures the bucket for the rest of the process: keep that to this test,
    # whose server is gone after it (the other tests' bucket of the same name is another server)
    monkeypatch.setattr(locations, "_options", {})
    exec(compile(code.group(1), "README.md", "exec"), {})


def test_readme_commands(s3: LocalS3, realdata: Path, tmp_path: Path) -> None:
    block = re.search(r"```\n(AWS_ENDPOINT_URL.*?)```", _section(), re.S)
    assert block is not None
    env = {**os.environ, **s3.environment()}
    shutil.copy(realdata / "nifti" / "avg152T1_LR_nifti.nii.gz", tmp_path / "brain.nii.gz")
    for line in block.group(1).strip().splitlines():
        argv = line.split("#")[0].split()[1:]  # the variable is set through env, the endpoint is the fixture's
        if argv[1] == "serve":
            argv.insert(2, "--check")
            shutil.copy(realdata / "svs" / "CMU-1-Small-Region.svs", tmp_path / "cmu.svs")
            s3.upload(tmp_path / "cmu.svs", "slides/cmu.svs")
        done = subprocess.run([sys.executable, "-m", "ziggurat.cli", *argv[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    remote = ziggurat.open(s3.url("brain.zarr"), storage_options=s3.storage_options)
    assert np.array_equal(remote.to_numpy(), ziggurat.open(tmp_path / "brain.nii.gz").to_numpy())
