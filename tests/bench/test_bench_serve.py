"""``python -m bench serve --quick`` runs end to end and checks what it measures: every server
starts and answers; ziggurat's cached responses equal its first (rendered) ones; its tiles decode
to the anchors' pixels (openslide's DeepZoomGenerator, large_image's getTile) within tolerance."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


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
    cached = re.findall(r"check: ziggurat serve \((dz|xyz)\) x1: cached responses equal .* on (\d+)/(\d+)", done.stdout)
    assert sorted(g for g, _, _ in cached) == ["dz", "xyz"] and all(a == b != "0" for _, a, b in cached)
    pixels = re.findall(r"check: pixels ziggurat serve \((dz|xyz)\) .* on (\d+) tiles: "
                        r"worst mean \|diff\| ([\d.]+) .*: (\w+)",
                        done.stdout)  # fmt: skip
    assert len(pixels) == 2 and all(int(n) > 0 and float(d) <= 8.0 and v == "ok" for _, n, d, v in pixels), done.stdout


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (apt-get install wrk)")
def test_bench_serve_faults_quick() -> None:
    """The fault mode: wrk while memcached and redis are killed, restarted, frozen and thawed; no request fails."""
    done = subprocess.run([sys.executable, "-m", "bench", "serve", "--faults", "--quick"],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r[0].strip("| ") for r in rows[1:]] == ["no shared cache (reference)", "memcached", "redis"]
    for row in rows[2:]:
        assert all(a in row[1] for a in ("kill", "restart", "freeze", "thaw")), row
        assert int(row[2]) > 0 and row[6] == "0", row  # requests answered, none failed
    assert re.search(r"check: faults: 0 failed requests", done.stdout), done.stdout
