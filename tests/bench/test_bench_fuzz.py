"""The long fuzzing run works end to end in its quick mode (every case held, the tables printed)."""

from __future__ import annotations

from collections.abc import Callable


def test_fuzz_benchmark_quick(run_bench_quick: Callable[[str], str]) -> None:
    out = run_bench_quick("fuzz")
    assert "| area | cases | held |" in out and "| mutation | cases | held |" in out
    assert "FAILED" not in out
