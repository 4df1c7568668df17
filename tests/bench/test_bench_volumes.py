"""The volumes benchmark runs end to end on a tiny volume; its agreement check catches wrong voxels."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.volumes import Tool, check_agreement  # noqa: E402


def test_volumes_benchmark_quick() -> None:
    run = subprocess.run([sys.executable, "-m", "bench", "volumes", "--quick"], cwd=REPO,
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]  # includes: every tool's reads equal the input
    for case in ("open", "full load", "axial slice", "sagittal slice", "random"):
        assert f"| {case}" in run.stdout
    sizes = dict(re.findall(r"^\| (ziggurat \w+|numpy \.npy) \| [\d.]+ \| \d+ \| ([\d,]+) \|", run.stdout, re.M))
    raw = int(sizes["numpy .npy"].replace(",", ""))
    for preset in ("axial", "isotropic"):  # the stores are compressed, not raw copies
        assert int(sizes[f"ziggurat {preset}"].replace(",", "")) < raw / 2


def test_agreement_check_catches_a_wrong_tool(tmp_path: Path) -> None:
    data = np.arange(4 * 9 * 10, dtype=np.float32).reshape(4, 9, 10)
    good = Tool("good", tmp_path, lambda: data, lambda h, z, y, x: h[z, y, x], lambda h: h)
    check_agreement([good], data)
    off = data.copy()
    off[3, 8, 9] += 1  # outside the patch the check reads: only the full load sees it
    bad = Tool("bad", tmp_path, lambda: off, lambda h, z, y, x: h[z, y, x], lambda h: h)
    with pytest.raises(AssertionError, match="bad: a full load differs"):
        check_agreement([good, bad], data)
