"""The cohort benchmark runs end to end on a tiny cohort; its checks compare both tools' answers with
pandas and the NIfTI voxels."""

from __future__ import annotations

from collections.abc import Callable


def test_cohort_benchmark_quick(run_bench_quick: Callable[[str], str]) -> None:
    out = run_bench_quick("cohort")
    for case in ("open", "lookup by id", "filter query", "view of 10%", "read T1w via cohort", "scale: filter query"):
        assert f"| {case} | ziggurat |" in out
    assert "| ingest | ziggurat |" in out
