"""Writers to s3://: ``dzi`` (tiles first, ``OUT.dzi`` last) and ``thumbnails`` of an s3:// slice prefix,
checked against the same run on local disk and, for thumbnails, a hand-computed mean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

from ziggurat.errors import RemoteStorageError
from ziggurat.io.locations import configure
from ziggurat.testing.s3 import LocalS3
from ziggurat.testing.sample import write_slide
from ziggurat.writers.dzi import write_dzi
from ziggurat.writers.thumbnails import build_thumbnails


@pytest.fixture(scope="module")
def small_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dzi") / "small.tif"
    write_slide(path, 1100, 700)
    return path


def _cli(s3: LocalS3, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **s3.environment()}
    return subprocess.run([sys.executable, "-m", "ziggurat.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip


def _tree(s3: LocalS3, prefix: str) -> dict[str, bytes]:
    client = s3.client()
    return {k[len(prefix) :]: client.get_object(Bucket=s3.bucket, Key=k)["Body"].read() for k in s3.keys(prefix)}


def test_dzi_cli_reads_and_writes_s3_like_local_disk(s3: LocalS3, small_slide: Path, tmp_path: Path) -> None:
    slide = s3.upload(small_slide, "dzi/in/small.tif")
    done = _cli(s3, "dzi", "--quiet", slide, s3.url("dzi/out/small.dzi"))
    assert done.returncode == 0, done.stderr
    assert not Path("s3:").exists()
    write_dzi(small_slide, tmp_path / "small.dzi")
    local = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert _tree(s3, "dzi/out/") == local and "small.dzi" in local and len(local) > 20
    again = _cli(s3, "dzi", slide, s3.url("dzi/out/small.dzi"))
    assert again.returncode == 2 and "exists" in again.stderr  # no --overwrite


def test_a_failed_dzi_upload_leaves_no_descriptor(s3: LocalS3, small_slide: Path) -> None:
    assert s3.proxy is not None
    configure(s3.url(), s3.storage_options)
    url = s3.url("dzi/fail/small.dzi")
    write_dzi(small_slide, url)
    assert "dzi/fail/small.dzi" in s3.keys("dzi/fail/")
    configure(s3.url(), {**s3.storage_options, "max_retries": 0})
    try:
        s3.proxy.fail(10_000, after=8)  # the old descriptor is deleted, a few tiles go up, then S3 fails
        with pytest.raises(RemoteStorageError, match="s3://ziggurat/dzi/fail/small"):
            write_dzi(small_slide, url, overwrite=True, quality=50)
    finally:
        s3.proxy.reset()
        configure(s3.url(), s3.storage_options)
    keys = s3.keys("dzi/fail/")
    assert "dzi/fail/small.dzi" not in keys and any(k.startswith("dzi/fail/small_files/") for k in keys)


def _slices(folder: Path) -> np.ndarray:
    stack = np.random.default_rng(5).integers(0, 4000, (5, 62, 81)).astype("uint16")
    folder.mkdir()
    for z, image in enumerate(stack):
        tifffile.imwrite(folder / f"s{z:03d}.tif", image, compression="zlib" if z % 2 else None)
    (folder / "notes.txt").write_text("not a slice")
    return stack


def test_thumbnails_of_an_s3_slice_prefix_to_s3(s3: LocalS3, tmp_path: Path) -> None:
    stack = _slices(tmp_path / "stack")
    (tmp_path / "stack" / "notes.txt").unlink()  # the local source opens only a pure slice folder
    s3.upload(tmp_path / "stack", "thumbs/stack")
    s3.client().put_object(Bucket=s3.bucket, Key="thumbs/stack/notes.txt", Body=b"not a slice")
    configure(s3.url(), s3.storage_options)
    remote = build_thumbnails(s3.url("thumbs/stack"), s3.url("thumbs/out"), window=(0, 4000))
    local = build_thumbnails(tmp_path / "stack", tmp_path / "out", window=(0, 4000))
    assert remote == local and remote["written"] == remote["images"]
    tree = _tree(s3, "thumbs/out/")
    files = {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in (tmp_path / "out").rglob("*")
             if p.is_file()}  # fmt: skip
    assert tree == files and json.loads(tree["settings.json"])["slices"] == 5
    # level 1, slice 2: the 2x2 mean windowed to 8 bits (an odd last row and column average with themselves)
    padded = np.pad(stack[2].astype(float), ((0, 0), (0, 1)), mode="edge")
    mean = padded.reshape(31, 2, 41, 2).mean(axis=(1, 3))
    assert np.array_equal(imagecodecs.png_decode(tree["1/000002.png"]), np.floor(mean * 255 / 4000 + 0.5))


def test_thumbnails_cli_on_urls(s3: LocalS3, tmp_path: Path) -> None:
    _slices(tmp_path / "stack")
    s3.upload(tmp_path / "stack", "thumbs-cli/stack")
    done = _cli(s3, "thumbnails", "--quiet", s3.url("thumbs-cli/stack"), s3.url("thumbs-cli/out"))
    assert done.returncode == 0, done.stderr
    assert "thumbs-cli/out/settings.json" in s3.keys("thumbs-cli/out/")
    again = _cli(s3, "thumbnails", s3.url("thumbs-cli/stack"), s3.url("thumbs-cli/out"))
    assert again.returncode == 2 and "exists" in again.stderr
    done = _cli(s3, "thumbnails", "--quiet", "--overwrite", s3.url("thumbs-cli/stack"), s3.url("thumbs-cli/out"))
    assert done.returncode == 0, done.stderr
