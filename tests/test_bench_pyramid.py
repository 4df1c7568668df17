"""The pyramid and thumbnails benchmarks stay alive: quick modes run every tool and print the tables."""

from __future__ import annotations

from collections.abc import Callable


def test_bench_pyramid_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("pyramid")
    for tool in ("| ziggurat |", "| ziggurat-localcluster |", "| dask-threads |", "| dask-localcluster |", "| tensorstore |"):
        assert tool in stdout
    assert "MB/s" in stdout and "peak RSS" in stdout


def test_bench_thumbnails_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("thumbnails")
    for tool in ("| ziggurat-png |", "| ziggurat-tif |", "| pil-per-pair |", "| tifffile-2proc |", "| read-bytes |"):
        assert tool in stdout
