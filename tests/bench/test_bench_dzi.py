"""The DeepZoom benchmark stays alive: its quick mode runs every tool, and their pixels agree."""

from __future__ import annotations

from collections.abc import Callable


def test_bench_dzi_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("dzi")
    for row in ("| DeepZoom 254/1 | ziggurat |", "| DeepZoom 254/1 | pyvips dzsave |",
                "| DeepZoom 254/1 | openslide 1 proc |", "| DeepZoom 254/1 | openslide 2 procs |",
                "| DeepZoom 254/1 | large_image |", "| pass-through 256/0 | ziggurat |"):  # fmt: skip
        assert row in stdout
    assert "failed" not in stdout
    assert "| 2 threads |" in stdout and "| 2 processes |" in stdout
    assert "| 73 |" in stdout  # 2,000 x 1,500 at 254 px: 48 + 12 + 4 tiles + 9 one-tile levels
    # every DeepZoom writer's level (finest - 1) matches libvips' within JPEG noise (q90 re-encodes)
    rows = [line.split("|") for line in stdout.splitlines() if line.startswith("| DeepZoom 254/1 |")]
    diffs = {cells[2].strip(): cells[3].strip() for cells in rows if len(cells) == 5}
    assert {"ziggurat", "openslide 1 proc"} <= diffs.keys(), stdout
    for tool, diff in diffs.items():
        assert float(diff) < 3.0, f"{tool}: {diff}"
