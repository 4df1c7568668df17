"""``python -m bench remote --quick`` runs: every tool reads the same voxels through the proxy."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def test_bench_remote_quick(run_bench_quick: Callable[[str], str]) -> None:
    pytest.importorskip("moto.server")
    pytest.importorskip("tiffslide")
    out = run_bench_quick("remote")
    for row in ("slide open | ziggurat", "random 256² region | tiffslide", "random 64³ patch | zarr-python ObjectStore",
                "16 random 256 KiB ranges | s3fs", "DICOM WSI open (prefix) | ziggurat"):  # fmt: skip
        assert row in out
