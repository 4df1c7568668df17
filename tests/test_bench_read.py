"""The read benchmark stays alive: its quick mode runs and prints the side-by-side table."""

from __future__ import annotations

from collections.abc import Callable


def test_bench_read_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("read")
    for tool in ("| ziggurat |", "| openslide |", "| tiffslide |", "| pyvips |"):
        assert tool in stdout
    assert "open + metadata" in stdout and "L0 256² unaligned" in stdout
