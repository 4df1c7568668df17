"""Shared benchmark plumbing: timing, percentiles, peak RSS, sample data, a ratio table."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(os.environ.get("ZIGGURAT_BENCH_DATA", Path(__file__).resolve().parent.parent / "bench-data"))


@dataclass
class Result:
    """Timings (seconds) of one tool on one case."""

    case: str
    tool: str
    seconds: list[float] = field(default_factory=list)
    extra: dict[str, float | str] = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def time_calls(func: Callable[[int], object], n: int, warmup: int = 0) -> list[float]:
    """Call ``func(i)`` for i in range(n) (after ``warmup`` calls) and return each duration."""
    for i in range(warmup):
        func(i)
    out = []
    for i in range(n):
        start = time.perf_counter()
        func(i)
        out.append(time.perf_counter() - start)
    return out


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample_slide(width: int, height: int, *, tile: int = 256, quality: int = 90) -> Path:
    """The generated sample slide of this size, made with ``ziggurat sample`` once and reused."""
    path = DATA_DIR / f"slide-{width}x{height}-t{tile}-q{quality}.tif"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "ziggurat.cli", "sample", "slide", str(path),
             "--size", f"{width}x{height}", "--tile", str(tile), "--quality", str(quality)],
            check=True,
        )  # fmt: skip
    return path


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def print_table(results: Sequence[Result], reference: str = "ziggurat", unit: str = "ms") -> str:
    """Markdown table of p50/p95 per case and tool, with each anchor's p50 divided by ours."""
    lines = [f"| case | tool | p50 ({unit}) | p95 ({unit}) | anchor p50 / ziggurat p50 |", "|---|---|---|---|---|"]
    ours = {r.case: r.p50 for r in results if r.tool == reference}
    for r in results:
        ratio = "" if r.tool == reference or r.case not in ours else f"{r.p50 / ours[r.case]:.2f}x"
        lines.append(f"| {r.case} | {r.tool} | {ms(r.p50)} | {ms(r.p95)} | {ratio} |")
    text = "\n".join(lines)
    print(text)
    return text
