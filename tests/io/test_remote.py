"""Slides and volumes on a real S3 protocol server (moto) read the same pixels as the local files,
with bounded request counts, across fork and spawn, and with typed errors when the network fails."""

from __future__ import annotations

import multiprocessing
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.errors import CorruptImageError, ImageNotFoundError, RemoteStorageError, UnsupportedFormatError
from ziggurat.io import remotefile
from ziggurat.testing.s3 import CREDENTIALS, LocalS3
from ziggurat.writers.convert import to_omezarr

SLIDES = ["svs/CMU-1-Small-Region.svs", "svs/tcga-cr-7395-01a-01-ts1.svs", "ome-tiff/multi-channel-z-series.ome.tif",
          "qptiff/small_vectra.qptiff"]  # fmt: skip
_forked: Any = None  # the Image a forked child inherits


def _upload(s3: LocalS3, path: Path, key: str) -> str:
    url = s3.upload(path, key)
    assert s3.proxy is not None
    s3.proxy.reset()
    return url


@pytest.mark.parametrize("name", SLIDES)
def test_slide_pixels_match_the_local_file(s3: LocalS3, realdata: Path, name: str) -> None:
    url = _upload(s3, realdata / name, f"pixels/{name}")
    remote = ziggurat.open(url, storage_options=s3.storage_options)
    local = tifffile.TiffFile(realdata / name)
    level = remote.levels[0]
    truth = local.series[0].levels[0].asarray()
    if name.endswith(".svs"):  # tifffile decodes the same (y, x, c) pixels
        assert np.array_equal(level.read(((0, level.shape[0]), (0, level.shape[1]), (0, 3))), truth)
    else:
        box = tuple((0, min(n, 80)) for n in level.shape)  # any axes: yxc slides, czyx stacks
        assert np.array_equal(level.read(box), ziggurat.open(realdata / name).levels[0].read(box))


def test_slide_open_and_region_request_counts(s3: LocalS3, realdata: Path) -> None:
    assert s3.proxy is not None
    url = _upload(s3, realdata / "svs/CMU-1-Small-Region.svs", "counts/cmu.svs")
    slide = ziggurat.open(url, storage_options=s3.storage_options)
    opened = s3.proxy.reset()
    assert opened.total == opened.gets() <= 3 and opened.body_bytes <= 1_000_000, opened
    assert slide.dimensions == (2220, 2967)
    region = slide.read_region((1000, 1500), 0, (512, 512))
    assert s3.proxy.reset().gets() <= 1  # one coalesced round (here inside the speculative reads)
    local = ziggurat.open(realdata / "svs/CMU-1-Small-Region.svs").read_region((1000, 1500), 0, (512, 512))
    assert np.array_equal(np.asarray(region), np.asarray(local))


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small speculative reads: the sample files are then read as if they were large."""
    monkeypatch.setattr(remotefile, "HEAD_BYTES", 64 * 1024)
    monkeypatch.setattr(remotefile, "TAIL_BYTES", 16 * 1024)
    monkeypatch.setattr(remotefile, "WHOLE_GAP", 0)


@pytest.mark.usefixtures("small_reads")
def test_open_fetches_only_the_directories(s3: LocalS3, sample_slide: Path) -> None:
    """Scaled down (64 KiB head, 16 KiB tail): the speculative ends, then one small block per IFD that
    lies between them (tifffile says where each is); no tile-offset array is fetched until its level is read."""
    assert s3.proxy is not None
    url = _upload(s3, sample_slide, "counts/scan.tif")
    with tifffile.TiffFile(sample_slide) as tif:
        size, ifds, shapes = sample_slide.stat().st_size, [p.offset for p in tif.pages], [p.shape for p in tif.pages]
    middle = {o // remotefile.BLOCK_BYTES for o in ifds if remotefile.HEAD_BYTES <= o < size - remotefile.TAIL_BYTES}
    assert middle  # levels written one after another: their IFDs lie between the ends
    s3.proxy.reset()
    image = ziggurat.open(url, storage_options=s3.storage_options, decoded_cache=False)
    opened = s3.proxy.reset()
    assert opened.gets() == opened.total == 2 + len(middle), (opened, ifds, size)
    assert opened.body_bytes <= remotefile.HEAD_BYTES + remotefile.TAIL_BYTES + len(middle) * remotefile.BLOCK_BYTES
    assert [level.shape for level in image.levels] == [tuple(shape) for shape in shapes]


@pytest.mark.usefixtures("small_reads")
def test_region_is_one_round_of_coalesced_range_gets(s3: LocalS3, sample_slide: Path) -> None:
    assert s3.proxy is not None
    url = _upload(s3, sample_slide, "counts/sample.tif")
    image = ziggurat.open(url, storage_options=s3.storage_options, decoded_cache=False)
    s3.proxy.reset()
    level = image.levels[0]
    box = ((700, 1724), (900, 1924), (0, 3))  # 1024² across 5 x 5 tiles of 256 px
    got = level.read(box)
    stats = s3.proxy.reset()
    assert 1 <= stats.gets() <= 5, stats  # tile rows are coalesced: never one GET per tile (25)
    assert np.array_equal(got, ziggurat.open(sample_slide, decoded_cache=False).levels[0].read(box))


def _volume(tmp_path: Path) -> tuple[np.ndarray, Path]:
    data = np.random.default_rng(12).integers(0, 4000, (96, 150, 170)).astype("uint16")
    out = Path(to_omezarr(ziggurat.from_array(data, axes="zyx"), tmp_path / "v.zarr",
                                                   chunks=(64, 64, 64)))  # fmt: skip
    return data, out


def test_omezarr_volume_reads_and_patch_request_counts(s3: LocalS3, tmp_path: Path) -> None:
    import zarr

    assert s3.proxy is not None
    data, local = _volume(tmp_path)
    url = _upload(s3, local, "vol/a.zarr")
    volume = ziggurat.open(url, storage_options=s3.storage_options)
    assert volume.format.startswith("ome-zarr") and volume.shape == data.shape
    assert np.array_equal(np.asarray(zarr.open_array(str(local / "0"), mode="r")[:]), data)
    s3.proxy.reset()
    level = volume.levels[0]
    assert np.array_equal(level.read(((0, 64), (0, 64), (0, 64))), data[:64, :64, :64])
    first = s3.proxy.reset().gets()
    assert first <= 2  # one chunk, plus its shard's index the first time
    assert np.array_equal(level.read(((10, 74), (20, 84), (30, 94))), data[10:74, 20:84, 30:94])
    assert s3.proxy.reset().gets() <= 8  # spans 2 x 2 x 2 chunks; the shard index is cached
    assert np.array_equal(volume.axial(50), data[50])


def test_write_omezarr_to_s3_top_level_metadata_last(s3: LocalS3, tmp_path: Path) -> None:
    from ziggurat.io.locations import configure

    data = np.arange(40 * 60 * 70, dtype="uint16").reshape(40, 60, 70)
    configure(s3.url(), s3.storage_options)
    url = to_omezarr(ziggurat.from_array(data, axes="zyx"), s3.url("out/w.zarr"))
    assert url == s3.url("out/w.zarr")
    assert "out/w.zarr/zarr.json" in s3.keys("out/")
    assert np.array_equal(ziggurat.open(url).to_numpy(), data)


def test_failed_upload_leaves_no_complete_store(s3: LocalS3) -> None:
    assert s3.proxy is not None
    options = {**s3.storage_options, "max_retries": 0}
    from ziggurat.io.locations import configure

    configure(s3.url(), options)
    s3.proxy.fail(1000)
    with pytest.raises(RemoteStorageError) as caught:
        to_omezarr(ziggurat.from_array(np.ones((8, 8, 8), "u1"), axes="zyx"),
                                            s3.url("broken/b.zarr"))  # fmt: skip
    s3.proxy.reset()
    configure(s3.url(), s3.storage_options)
    assert "s3://ziggurat/broken/b.zarr" in str(caught.value)
    assert "broken/b.zarr/zarr.json" not in s3.keys("broken/")


def _read_inherited(queue: Any, other: str) -> None:
    queue.put(_forked.levels[0].read(((0, 256), (0, 256), (0, 3))).tobytes())  # in the inherited cache
    try:
        ziggurat.open(other)  # bytes it must fetch
        queue.put("opened")
    except RemoteStorageError as exc:
        queue.put(str(exc))


def _read_pickled(image: Any, queue: Any) -> None:
    queue.put(image.levels[0].read(((0, 256), (0, 256), (0, 3))).tobytes())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_remote_images_cross_fork_and_spawn(s3: LocalS3, sample_slide: Path, method: str) -> None:
    global _forked
    url = _upload(s3, sample_slide, f"procs/{method}.tif")
    image = ziggurat.open(url, storage_options=s3.storage_options, decoded_cache=False)
    expected = image.levels[0].read(((0, 256), (0, 256), (0, 3))).tobytes()  # the parent's client is in use
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    if method == "fork":
        _forked = image
        other = _upload(s3, sample_slide, "procs/other.tif")
        child = context.Process(target=_read_inherited, args=(queue, other))
    else:
        child = context.Process(target=_read_pickled, args=(image, queue))
    child.start()
    got = queue.get(timeout=60)
    # obstore's runtime does not survive a fork: a forked child that must fetch gets a typed error
    # that says what to do (before, its request hung for ever); a spawned child reads
    refusal = queue.get(timeout=60) if method == "fork" else ""
    child.join(30)
    assert child.exitcode == 0 and got == expected
    assert method == "spawn" or ("forked" in refusal and "forkserver" in refusal), refusal


def test_retries_through_slowdown(s3: LocalS3, sample_slide: Path) -> None:
    assert s3.proxy is not None
    url = _upload(s3, sample_slide, "faults/slow.tif")
    s3.proxy.fail(2)
    image = ziggurat.open(url, storage_options=s3.storage_options)
    stats = s3.proxy.reset()
    assert stats.injected["fail"] == 2
    assert image.dimensions == (3000, 2000)


def test_persistent_errors_are_typed_and_hide_credentials(s3: LocalS3, sample_slide: Path) -> None:
    assert s3.proxy is not None
    url = _upload(s3, sample_slide, "faults/down.tif")
    s3.proxy.fail(1000)
    with pytest.raises(RemoteStorageError) as caught:
        ziggurat.open(url, storage_options={**s3.storage_options, "max_retries": 1})
    s3.proxy.reset()
    message = str(caught.value)
    assert url in message
    assert CREDENTIALS["secret_access_key"] not in message and CREDENTIALS["access_key_id"] not in message


@pytest.mark.usefixtures("small_reads")
def test_cut_responses_are_retried(s3: LocalS3, sample_slide: Path) -> None:
    assert s3.proxy is not None
    url = _upload(s3, sample_slide, "faults/cut.tif")
    image = ziggurat.open(url, storage_options=s3.storage_options, decoded_cache=False)
    box = ((1000, 1512), (1500, 2012), (0, 3))  # tiles past the speculative reads
    s3.proxy.cut(1)
    got = image.levels[0].read(box)
    assert s3.proxy.reset().injected["cut"] == 1
    assert np.array_equal(got, ziggurat.open(sample_slide, decoded_cache=False).levels[0].read(box))


def test_truncated_object_is_a_typed_error(s3: LocalS3, sample_slide: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.tif"
    short.write_bytes(sample_slide.read_bytes()[: sample_slide.stat().st_size // 2])
    url = _upload(s3, short, "faults/short.tif")
    with pytest.raises(CorruptImageError, match=re.escape("faults/short.tif")):
        image = ziggurat.open(url, storage_options=s3.storage_options, decoded_cache=False)
        image.levels[0].read(((0, image.levels[0].shape[0]), (0, image.levels[0].shape[1]), (0, 3)))


def test_missing_keys_and_local_only_formats(s3: LocalS3, realdata: Path) -> None:
    with pytest.raises(ImageNotFoundError, match=re.escape("s3://ziggurat/nowhere/x.svs")):
        ziggurat.open(s3.url("nowhere/x.svs"), storage_options=s3.storage_options)
    url = _upload(s3, realdata / "dicom/single/imageio_dicom_file01_philips_ct.dcm", "local-only/ct.dcm")
    with pytest.raises(UnsupportedFormatError, match="need a local file"):
        ziggurat.open(url, storage_options=s3.storage_options)


def test_environment_variables_and_plain_http(s3: LocalS3, sample_slide: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _upload(s3, sample_slide, "env/slide.tif")
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    assert ziggurat.open(url).dimensions == (3000, 2000)
    # a public object is served path-style over plain HTTP too: the same object by http:// URL
    s3.client().put_object_acl(Bucket=s3.bucket, Key="env/slide.tif", ACL="public-read")
    http = f"{s3.endpoint}/{s3.bucket}/env/slide.tif"
    assert ziggurat.open(http).dimensions == (3000, 2000)


def test_pickled_images_reopen_with_their_storage_options(s3: LocalS3, sample_slide: Path) -> None:
    import pickle

    url = _upload(s3, sample_slide, "pickle/slide.tif")
    image = ziggurat.open(url, storage_options=s3.storage_options)
    assert pickle.loads(pickle.dumps(image)).dimensions == image.dimensions


@pytest.mark.usefixtures("small_reads")
def test_a_stalled_request_times_out_and_is_retried(s3: LocalS3, sample_slide: Path) -> None:
    assert s3.proxy is not None
    url = _upload(s3, sample_slide, "faults/stall.tif")
    image = ziggurat.open(url, storage_options={**s3.storage_options, "timeout": "1s"}, decoded_cache=False)
    box = ((1000, 1512), (1500, 2012), (0, 3))
    s3.proxy.delay(1, 3.0)
    got = image.levels[0].read(box)
    stats = s3.proxy.reset()
    assert stats.injected["delay"] == 1 and stats.gets() >= 2  # the stalled GET, then its retry
    assert np.array_equal(got, ziggurat.open(sample_slide, decoded_cache=False).levels[0].read(box))


def test_remote_file_bytes_match_and_cache_is_bounded(s3: LocalS3, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from ziggurat.io import remote
    from ziggurat.io.remotefile import BLOCK_BYTES, RemoteFile

    assert s3.proxy is not None
    blob = np.random.default_rng(3).integers(0, 256, 3 << 20, dtype=np.uint8).tobytes()
    (tmp_path / "blob.bin").write_bytes(blob)
    from ziggurat.io.locations import configure

    configure(s3.url(), s3.storage_options)
    url = _upload(s3, tmp_path / "blob.bin", "bytes/blob.bin")
    file = RemoteFile(url, head_bytes=100_000, tail_bytes=50_000, cache_bytes=2 * BLOCK_BYTES)
    assert s3.proxy.reset().gets() == 2 and file.size == len(blob)
    ranges = [(10, 20), (99_990, 30), (len(blob) - 40_000, 1000), (1_500_000, 5000), (1_510_000, 7), (2_000_000, 0)]
    assert file.read_ranges(ranges) == [blob[o : o + n] for o, n in ranges]
    assert s3.proxy.reset().gets() == 2  # the head/tail parts come from the opening reads; two spans left
    reader = file.open()
    reader.seek(1_200_000)
    assert reader.read(300_000) == blob[1_200_000:1_500_000]
    for offset in range(0, len(blob) - 1000, BLOCK_BYTES):
        assert file.read(offset, 1000) == blob[offset : offset + 1000]
    assert file._cached <= 2 * BLOCK_BYTES
    with pytest.raises(CorruptImageError, match=re.escape(url)):
        file.read(len(blob) - 10, 20)
    monkeypatch.setattr(remote, "PART_BYTES", 1 << 20)  # a large range goes as parallel parts
    s3.proxy.reset()
    assert file.read_ranges([(5, len(blob) - 60_000), (len(blob) - 7, 7)]) == [blob[5 : -60_000 + 5], blob[-7:]]
    assert s3.proxy.reset().gets() == 3  # 3 MiB - 60 kB in 1 MiB parts; the last 7 bytes are the tail's


def test_a_replaced_object_never_serves_stale_tiles(s3: LocalS3, tmp_path: Path) -> None:
    from ziggurat.cache.memory import MemoryCache
    from ziggurat.testing.sample import write_slide
    from ziggurat.tiles.service import TileService

    for seed, name in enumerate(("old", "new")):
        write_slide(tmp_path / f"{name}.tif", 700, 500, seed=seed)
    service = TileService(MemoryCache())  # one shared cache, as redis or memcached would be
    url = _upload(s3, tmp_path / "old.tif", "replaced/slide.tif")
    tiles = {"old": service.tile(ziggurat.open(url, storage_options=s3.storage_options), 9, 0, 0, encoding="png")}
    _upload(s3, tmp_path / "new.tif", "replaced/slide.tif")
    tiles["new"] = service.tile(ziggurat.open(url, storage_options=s3.storage_options), 9, 0, 0, encoding="png")
    local = {name: service.tile(ziggurat.open(tmp_path / f"{name}.tif"), 9, 0, 0, encoding="png") for name in tiles}
    assert tiles == local and tiles["old"] != tiles["new"]


def test_a_rewritten_store_has_a_new_identity(s3: LocalS3) -> None:
    from ziggurat.io.locations import configure

    configure(s3.url(), s3.storage_options)
    url = s3.url("replaced/v.zarr")
    identities = []
    for fill in (1, 2):
        time.sleep(1.05 * (fill - 1))  # S3's Last-Modified counts seconds; the two zarr.json have one ETag
        to_omezarr(ziggurat.from_array(np.full((4, 8, 8), fill, "u1"), axes="zyx"), url)
        image = ziggurat.open(url)
        assert int(image.to_numpy()[0, 0, 0]) == fill
        identities.append(image.identity)
    assert identities[0] != identities[1] and "zarr.json" in identities[0]
