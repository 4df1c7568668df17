"""The stack-read benchmark works end to end in its quick mode (pixels checked against tifffile's)."""

from __future__ import annotations

from collections.abc import Callable


def test_stackread_benchmark_quick(run_bench_quick: Callable[[str], str]) -> None:
    out = run_bench_quick("stackread")
    assert "| ct-stack-6x96 64³ patch | ziggurat |" in out and "| pages-8x96.tif axial slice | tifffile memmap |" in out
