"""The ML loader benchmark runs end to end on tiny data (its anchors check their patch shapes)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def test_ml_benchmark_quick(run_bench_quick: Callable[[str], str]) -> None:
    pytest.importorskip("torch")
    out = run_bench_quick("ml")
    tools = ("ziggurat, workers 0", "ziggurat loader, threads 2", "nibabel load + crop", "openslide read_region loop")
    for tool in tools:
        assert f"| {tool} |" in out
