"""The DeepZoomGenerator benchmark stays alive: its quick mode runs both modules on every tile."""

from __future__ import annotations

import re
from collections.abc import Callable


def test_bench_deepzoom_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("deepzoom")
    assert "failed" not in stdout
    for case in ("get_tile", "get_tile + save JPEG q75"):
        for tool in ("ziggurat", "openslide"):
            # 2,000 x 1,500 at 254 px: 48 + 12 + 4 tiles + 9 one-tile levels
            assert re.search(rf"\| {re.escape(case)} \| {tool} \| [\d.]+ \| 73 \|", stdout), (case, tool, stdout)
    diff = float(re.search(r"ziggurat vs openslide: ([\d.]+)", stdout)[1])  # type: ignore[index]
    assert diff < 1.0  # the full-resolution level is stored: the same decoded pixels
