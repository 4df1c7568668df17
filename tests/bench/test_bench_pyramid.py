"""The pyramid and thumbnails benchmarks stay alive: quick modes run every tool and print the tables."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.pyramid import verify


def test_bench_pyramid_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("pyramid")
    for tool in (
        "| ziggurat |",
        "| ziggurat-localcluster |",
        "| dask-threads |",
        "| dask-localcluster |",
        "| tensorstore |",
    ):
        assert tool in stdout
    assert "MB/s" in stdout and "peak RSS" in stdout
    # every tool's output was verified against the input (level 0 equal, levels within 1 of the mean)
    assert all(line.endswith("| 2 |") for line in stdout.splitlines() if line.startswith("| em-96.zarr"))


def test_pyramid_verification_catches_wrong_levels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cube = rng.integers(0, 255, (96, 96, 96), dtype=np.uint8)
    zarr.create_array(tmp_path / "in.zarr", data=cube)
    half = cube.reshape(48, 2, 48, 2, 48, 2).mean(axis=(1, 3, 5))
    zarr.create_array(tmp_path / "out" / "0", data=cube)
    zarr.create_array(tmp_path / "out" / "1", data=np.floor(half + 0.5).astype(np.uint8))
    assert verify("right", tmp_path / "in.zarr", tmp_path / "out") == 2
    zarr.create_array(tmp_path / "out" / "1", data=(half * 0.9).astype(np.uint8), overwrite=True)
    with pytest.raises(AssertionError, match="wrong: level 1"):
        verify("wrong", tmp_path / "in.zarr", tmp_path / "out")


def test_bench_thumbnails_quick(run_bench_quick: Callable[[str], str]) -> None:
    stdout = run_bench_quick("thumbnails")
    for tool in ("| ziggurat-png |", "| ziggurat-tif |", "| pil-per-pair |", "| tifffile-2proc |", "| read-bytes |"):
        assert tool in stdout
