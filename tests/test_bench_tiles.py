"""The tiles benchmark stays alive: its quick mode runs against real servers and prints both tables."""

from __future__ import annotations

from collections.abc import Callable


def test_bench_tiles_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("tiles")
    for row in ("| uncached tile | large_image |", "| uncached tile | ziggurat |",
                "| cached hit: memcached | ziggurat |", "| cached hit: redis | ziggurat |",
                "tiles/s, 2 threads"):  # fmt: skip
        assert row in stdout
