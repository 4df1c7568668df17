"""The read benchmark stays alive and its tools agree: quick mode runs every tool, and ziggurat's
thumbnails have openslide's size and pixels within a few grey levels (area mean vs Lanczos)."""

from __future__ import annotations

import re
from collections.abc import Callable


def test_bench_read_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("read")
    for tool in ("| ziggurat |", "| openslide |", "| tiffslide |", "| pyvips |"):
        assert tool in stdout
    assert "open + metadata" in stdout and "L0 256² unaligned" in stdout
    assert "open + metadata CMU-1-Small-Region.svs" in stdout  # the SVS open case
    rows = re.findall(r"^\| (\S+) \| (\d+) \| (\d+x\d+) \| (\d+x\d+) \| ([\d.]+|nan) \|$", stdout, re.M)
    files = {row[0] for row in rows}
    assert any(name.startswith("slide-") for name in files), stdout[-2000:]  # the generated sample
    for name, size, ours, theirs, diff in rows:
        assert ours == theirs, (name, size, ours, theirs)
        assert max(int(v) for v in ours.split("x")) == int(size)
        assert float(diff) < 4.0, (name, size, diff)
    timed = re.findall(r"^\| thumb (\S+) (\d+) \| (\w+) \| ([\d.]+) \|", stdout, re.M)
    assert {tool for *_, tool, _ in timed} >= {"ziggurat", "openslide"}
