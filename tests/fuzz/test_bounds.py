"""Bounded work for hostile input, each class reproduced by hand: codec headers that lie, IFD loops,
files truncated while open, NIfTI headers and gzip streams that claim too much, thumbnails of
large one-level slides, the read budget, and RGBA reads of 64-bit images."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import time
from pathlib import Path

import nibabel
import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.errors import CorruptImageError, ResourceLimitError
from ziggurat.kernels import StreamedResize, resize_area
from ziggurat.sources.guards import budget, codec_dimensions


def _lying_jpeg_tiff(path: Path) -> None:
    """A ~1 KB TIFF whose one 16 x 16 JPEG tile's SOF claims 65,500 x 65,500."""
    tifffile.imwrite(path, np.full((16, 16, 3), 128, np.uint8), tile=(16, 16), compression="jpeg", photometric="rgb")
    data = bytearray(path.read_bytes())
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", 65500, 65500)
    path.write_bytes(bytes(data))


def test_a_tile_whose_jpeg_header_lies_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "lie.tif"
    _lying_jpeg_tiff(path)
    assert path.stat().st_size < 2048
    with ziggurat.open(path, decoded_cache=False) as image:
        start = time.perf_counter()
        with pytest.raises(CorruptImageError, match=r"lie\.tif.*claims 65500 x 65500.*holds 16 x 16"):
            image.read_region((0, 0), 0, (16, 16))
        assert time.perf_counter() - start < 1


def test_codec_headers_are_read() -> None:
    import imagecodecs

    picture = np.zeros((30, 50, 3), np.uint8)
    assert codec_dimensions(imagecodecs.jpeg_encode(picture)) == (30, 50)
    assert codec_dimensions(imagecodecs.png_encode(picture)) == (30, 50)
    assert codec_dimensions(imagecodecs.jpeg2k_encode(picture, codecformat="j2k")) == (30, 50)
    assert codec_dimensions(b"\x00" * 40) is None


def test_an_ifd_chain_that_loops_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.tif"
    with tifffile.TiffWriter(path) as tif:
        for _ in range(3):
            tif.write(np.zeros((8, 8), np.uint8))
    with tifffile.TiffFile(path) as tif:
        first, last = tif.pages[0].offset, tif.pages[-1].offset
    with open(path, "r+b") as fh:
        fh.seek(last)
        (n,) = struct.unpack("<H", fh.read(2))
        fh.seek(last + 2 + 12 * n)
        fh.write(struct.pack("<I", first))
    start = time.perf_counter()
    with pytest.raises(CorruptImageError, match=r"loop\.tif.*IFD chain loops"):
        ziggurat.open(path)
    assert time.perf_counter() - start < 1


def test_an_uncompressed_tiff_truncated_while_open_gives_a_typed_error(tmp_path: Path) -> None:
    """Before: a memory map, and SIGBUS killed the process. A child process proves there is no signal."""
    path = tmp_path / "raw.tif"
    tifffile.imwrite(
        path, np.arange(512 * 512 * 3, dtype=np.uint32).reshape(512, 512, 3) % 251, rowsperstrip=8, photometric="rgb"
    )
    script = f"""
import os, ziggurat
from ziggurat.errors import CorruptImageError
image = ziggurat.open({str(path)!r})
before = image.read_region((0, 400), 0, (64, 64))
os.truncate({str(path)!r}, 4096)  # what `cp small.tif served.tif` does first
try:
    image.read_region((0, 400), 0, (64, 64))
except CorruptImageError as exc:
    print("typed", "raw.tif" in str(exc))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.split() == ["typed", "True"]


def _nifti2_claiming(path: Path, shape: tuple[int, ...]) -> None:
    header = nibabel.Nifti2Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    path.write_bytes(header.binaryblock + b"\x00" * (4 + 20_000))


def test_nifti_headers_claiming_too_much_fail_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.nii"
    _nifti2_claiming(path, (10**9, 1, 4))  # a 21 KB file claiming 10^9 px in-plane
    start = time.perf_counter()
    with pytest.raises(CorruptImageError, match=r"huge\.nii.*claims"):
        ziggurat.open(path)
    bomb = tmp_path / "bomb.nii.gz"
    header = nibabel.Nifti1Header()
    header.set_data_shape((2048, 2048, 2048))
    header.set_data_dtype(np.int16)
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(header.binaryblock + b"\x00" * 4 + b"\x00" * (32 << 20))
    with pytest.raises(CorruptImageError, match=r"bomb\.nii\.gz.*gzip file can hold"):
        ziggurat.open(bomb)
    assert time.perf_counter() - start < 2


def test_reads_over_the_budget_are_refused(tmp_path: Path) -> None:
    image = ziggurat.from_array(np.zeros((1000, 1000, 3), np.uint8))
    with budget(1_000_000):
        image.read_region((0, 0), 0, (500, 500))
        with pytest.raises(ResourceLimitError, match=r"3,000,000 bytes, over the budget of 1,000,000"):
            image.read_region((0, 0), 0, (1000, 1000))


@pytest.mark.parametrize("dtype", [np.uint64, np.int64, np.uint32, np.uint8])
def test_rgba_regions_of_wide_integers(dtype: type) -> None:
    image = ziggurat.from_array(np.full((40, 40, 1), 7, dtype))
    region = image.read_region((-10, -10), 0, (20, 20), rgba=True)
    assert region.dtype == dtype
    assert region[0, 0, 1] == 0 and region[15, 15, 1] == np.iinfo(dtype).max and region[15, 15, 0] == 7


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.float32])
def test_streamed_resize_is_the_area_resize(dtype: type) -> None:
    rng = np.random.default_rng(1)
    array = rng.integers(0, 200, (999, 701, 3)).astype(dtype)
    streamed = StreamedResize(array.shape, array.dtype, 97, 61)
    for y in range(0, 999, 64):
        streamed.add(y, array[y : y + 64])
    np.testing.assert_array_equal(streamed.result(), resize_area(array, 97, 61))


def test_thumbnail_of_a_large_one_level_slide_reads_in_strips(tmp_path: Path) -> None:
    """10,000 x 10,000 RGB (300 MB decoded) as one level: the thumbnail's peak RSS stays far below it."""
    path = tmp_path / "flat.tif"
    import imagecodecs

    tile = imagecodecs.jpeg_encode(np.full((256, 256, 3), 200, np.uint8), level=80)
    side = 10_000
    count = ((side + 255) // 256) ** 2
    tifffile.imwrite(path, iter([tile] * count), shape=(side, side, 3), dtype=np.uint8, tile=(256, 256),
                     compression="jpeg", photometric="rgb")  # fmt: skip
    script = f"""
import resource, ziggurat
image = ziggurat.open({str(path)!r})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
thumb = image.get_thumbnail((512, 512))
print(thumb.shape, int(thumb.mean()), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    shape, mean, grown = done.stdout.rsplit(" ", 2)
    assert shape == "(512, 512, 3)" and abs(int(mean) - 200) <= 2
    assert int(grown) < 120, f"thumbnail grew RSS by {grown} MiB"


def test_damaged_files_never_break_the_listing(tmp_path: Path) -> None:
    """A TIFF with ImageWidth 0, a NIfTI with an unknown datatype and one with a zero dimension sit
    beside a good image: the listing answers 200 with the good one, every time."""
    import httpx

    from ziggurat.server import create_app
    from ziggurat.server.thread import live_server

    tifffile.imwrite(tmp_path / "good.tif", np.zeros((64, 64, 3), np.uint8), photometric="rgb")
    tifffile.imwrite(tmp_path / "zero.tif", np.zeros((64, 64), np.uint8))
    with tifffile.TiffFile(tmp_path / "zero.tif", mode="r+b") as tif:
        tif.pages[0].tags["ImageWidth"].overwrite(0)
    for name, (at, value) in {"dtype.nii": (70, 999), "zerodim.nii": (42, 0)}.items():
        nibabel.save(nibabel.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.eye(4)), tmp_path / name)
        data = bytearray((tmp_path / name).read_bytes())
        data[at : at + 2] = struct.pack("<h", value)
        (tmp_path / name).write_bytes(bytes(data))
    with live_server(create_app([tmp_path], cache="memory://", rescan_seconds=0)) as url:
        for _ in range(3):
            answer = httpx.get(f"{url}/api/images", timeout=30)
            assert answer.status_code == 200
            assert [item["name"].rsplit("/", 1)[-1] for item in answer.json()["items"]] == ["good.tif"]


def test_a_region_over_the_budget_is_413(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from ziggurat.server import create_app
    from ziggurat.server.thread import live_server

    tifffile.imwrite(tmp_path / "big.tif", np.zeros((2000, 2000, 3), np.uint8), photometric="rgb", tile=(256, 256))
    monkeypatch.setenv("ZIGGURAT_MAX_BYTES", "1MB")
    with live_server(create_app([tmp_path], cache="memory://", rescan_seconds=0)) as url:
        ident = httpx.get(f"{url}/api/images", timeout=30).json()["items"][0]["id"]
        small = httpx.get(f"{url}/api/images/{ident}/region?x=0&y=0&width=200&height=200&format=png", timeout=30)
        wide = httpx.get(f"{url}/api/images/{ident}/region?x=0&y=0&width=2000&height=2000&format=png", timeout=30)
    assert small.status_code == 200
    assert wide.status_code == 413 and "budget" in wide.json()["error"]


def test_a_zarr_v2_chunk_whose_zstd_frame_lies_is_refused_before_decoding(tmp_path: Path) -> None:
    """zarr-python (numcodecs) allocates the content size a zstd frame claims: 1 TiB here, before."""
    import zarr

    path = tmp_path / "lie.zarr"
    array = zarr.create_array(path, shape=(64, 64), chunks=(32, 32), dtype="u2", zarr_format=2)
    array[...] = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    chunk = path / "0.1"
    data = bytearray(chunk.read_bytes())
    assert data[:4] == b"\x28\xb5\x2f\xfd" and data[4] & 0x20  # a single-segment zstd frame
    fcs = (1, 2, 4, 8)[data[4] >> 6]
    data[4] |= 0xC0  # an 8-byte content size: 2^40 bytes
    data[5 : 5 + fcs] = struct.pack("<Q", 2**40)
    chunk.write_bytes(bytes(data))
    with ziggurat.open(path) as image:
        assert np.array_equal(image.levels[0].read(((0, 32), (0, 32))), np.asarray(array[:32, :32]))
        with pytest.raises(CorruptImageError, match=r"0\.1: its header claims 1,099,511,627,776 bytes"):
            image.levels[0].read(((0, 32), (32, 64)))
