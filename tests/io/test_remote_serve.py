"""``ziggurat serve s3://bucket/prefix``: the catalog lists a bucket prefix and serves its slides and volumes."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

import ziggurat
from ziggurat.io.listing import list_images
from ziggurat.io.locations import configure
from ziggurat.server import create_app
from ziggurat.server.thread import live_server
from ziggurat.testing.s3 import LocalS3
from ziggurat.writers.convert import to_omezarr


def test_serve_a_bucket_prefix(
    s3: LocalS3, sample_slide: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    volume = np.arange(20 * 40 * 50, dtype="uint16").reshape(20, 40, 50)
    store = to_omezarr(ziggurat.from_array(volume, axes="zyx"), tmp_path / "ct.zarr")
    s3.upload(sample_slide, "served/slides/a.tif")
    s3.upload(store, "served/ct.zarr")
    s3.upload(sample_slide, "elsewhere/b.tif")
    configure(s3.url(), s3.storage_options)
    listed = list_images(s3.url("served"))
    assert [name for name, _, _ in listed] == ["served/ct.zarr", "served/slides/a.tif"]
    with live_server(create_app([s3.url("served")], cache="memory://")) as base, httpx.Client(base_url=base) as client:
        items = client.get("/api/images").json()["items"]
        assert sorted(item["name"] for item in items) == ["served/ct.zarr", "served/slides/a.tif"]
        slide = next(item for item in items if item["name"].endswith("a.tif"))
        tile = client.get(f"/api/images/{slide['id']}/tiles/0/0/0.jpg")
        assert tile.status_code == 200 and tile.content[:2] == b"\xff\xd8"
        assert "s3://" not in client.get(f"/api/images/{slide['id']}").text  # ids, never locations
