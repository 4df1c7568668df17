"""The read benchmark stays alive: its quick mode runs and prints the side-by-side table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_read_quick(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "read", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "ZIGGURAT_BENCH_DATA": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for tool in ("| ziggurat |", "| openslide |", "| tiffslide |", "| pyvips |"):
        assert tool in done.stdout
    assert "open + metadata" in done.stdout and "L0 256² unaligned" in done.stdout
