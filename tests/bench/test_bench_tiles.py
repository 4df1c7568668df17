"""The tiles benchmark measures the right thing: its quick mode runs against real servers, checks
that ziggurat's tiles decode to large_image's pixels (within JPEG tolerance) and that every cache
returns the bytes of the uncached render, and prints both tables."""

from __future__ import annotations

import re
from collections.abc import Callable


def test_bench_tiles_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("tiles")  # exits non-zero when a check fails
    for row in ("| uncached tile | large_image |", "| uncached tile | ziggurat |",
                "| cached hit: memcached | ziggurat |", "| cached hit: redis | ziggurat |",
                "tiles/s, 2 threads"):  # fmt: skip
        assert row in stdout
    pixels = re.search(r"check: pixels vs large_image on (\d+) tiles, worst mean \|diff\| stored ([\d.]+) .* "
                       r"synthesized ([\d.]+) .*: (\w+)", stdout)  # fmt: skip
    assert pixels is not None and int(pixels[1]) > 0 and pixels[4] == "ok", stdout
    assert float(pixels[2]) <= 2.5 and float(pixels[3]) <= 6.0
    for name in ("memory", "memcached", "redis"):
        hits = re.search(rf"check: {name} cache hits equal uncached tiles on (\d+)/(\d+)", stdout)
        assert hits is not None and hits[1] == hits[2] != "0", stdout
