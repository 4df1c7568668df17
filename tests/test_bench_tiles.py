"""The tiles benchmark stays alive: its quick mode runs against real servers and prints both tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_tiles_quick(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "tiles", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "ZIGGURAT_BENCH_DATA": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("| uncached tile | large_image |", "| uncached tile | ziggurat |",
                "| cached hit: memcached | ziggurat |", "| cached hit: redis | ziggurat |",
                "tiles/s, 2 threads"):  # fmt: skip
        assert row in done.stdout
