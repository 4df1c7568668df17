"""Dask: ``ziggurat.to_dask`` of slides and volumes, and pyramids built on a 2-worker LocalCluster over loopback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

import ziggurat
from ziggurat.cli import main
from ziggurat.errors import OutOfRangeError
from ziggurat.writers.omezarr.builder import build_pyramid

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes on 127.0.0.1 (each opens its own file handles)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as local, distributed.Client(local) as client:  # fmt: skip
        yield local, client


def test_to_dask_image_and_volume(sample_slide: Path, realdata: Path, cluster) -> None:
    _, client = cluster
    image = ziggurat.open(sample_slide)
    array = ziggurat.to_dask(image, 0, chunks=(512, 768, 3))
    assert array.shape == image.levels[0].shape and array.chunksize == (512, 768, 3)
    window = array[300:1300, 700:2100].compute(scheduler=client)
    np.testing.assert_array_equal(window, image.levels[0][300:1300, 700:2100])
    np.testing.assert_array_equal(ziggurat.to_dask(image, 1).compute(), image.levels[1][:, :])
    volume = ziggurat.open(realdata / "tiff-stack" / "stent-ct")
    lazy = ziggurat.to_dask(volume)
    assert lazy.chunks[0][0] >= 1 and lazy.dtype == np.uint16
    np.testing.assert_array_equal(lazy.mean(axis=0).compute(scheduler=client), volume.to_numpy().mean(axis=0))
    with pytest.raises(OutOfRangeError):
        ziggurat.to_dask(volume, 5)


def test_pyramid_on_local_cluster_matches_local_pool(tmp_path: Path, realdata: Path, cluster) -> None:
    local, client = cluster
    stack = realdata / "tiff-stack" / "stent-ct"
    on_cluster = build_pyramid(stack, tmp_path / "cluster.zarr", client=client, memory=64 * 2**20)
    threads = build_pyramid(stack, tmp_path / "threads.zarr")
    a, b = zarr.open_group(on_cluster, mode="r"), zarr.open_group(threads, mode="r")
    assert len(list(a.array_keys())) == len(list(b.array_keys())) == 3
    for key in a.array_keys():
        np.testing.assert_array_equal(a[key][:], b[key][:])
    np.testing.assert_array_equal(a["0"][:], ziggurat.open(stack).to_numpy())
    # the same through the CLI and a scheduler address
    assert main(["pyramid", str(stack), str(tmp_path / "cli.zarr"), "--scheduler", local.scheduler_address]) == 0
    np.testing.assert_array_equal(zarr.open_group(tmp_path / "cli.zarr")["2"][:], b["2"][:])
