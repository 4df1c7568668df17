"""The volumes benchmark runs end to end on a tiny volume (every tool must read the same voxels)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_volumes_benchmark_quick() -> None:
    run = subprocess.run([sys.executable, "-m", "bench", "volumes", "--quick"], cwd=REPO,
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    for case in ("open", "full load", "axial slice", "sagittal slice", "random"):
        assert f"| {case}" in run.stdout
    assert "| ziggurat axial |" in run.stdout and "| ziggurat isotropic |" in run.stdout
    assert "/ .nii.gz" in run.stdout
