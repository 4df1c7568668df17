"""``python -m bench serve --quick`` runs end to end: every server starts, answers, and is measured."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (apt-get install wrk)")
def test_bench_serve_quick() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "serve", "--quick"],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    servers = {line.split(" | ")[0].strip("| ") for line in table[1:]}
    assert servers == {"ziggurat serve (dz)", "openslide DeepZoomGenerator (dz)", "ziggurat serve (xyz)",
                       "large_image getTile (xyz)"}  # fmt: skip
    assert len(table) == 1 + 8  # header + 4 servers x (uncached, cached)
