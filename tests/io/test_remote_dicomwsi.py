"""DICOM WSI series on a real S3 protocol server (moto): a prefix of instances, or one instance's
URL, reads the pixels of the local files, with request counts bounded by the file layout: a
listing and one parallel round of heads to open, one round of coalesced range GETs per region,
and an offset-table-less instance walked in one large read, never one round trip per frame."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ziggurat
from ziggurat import openslide as zs
from ziggurat.io.opening import forget
from ziggurat.io.remotefile import BLOCK_BYTES, HEAD_BYTES, REMOTE_GAP, WHOLE_GAP
from ziggurat.testing.dicomwsi import slide_pixels, write_dicom_wsi
from ziggurat.testing.s3 import LocalS3

pydicom = pytest.importorskip("pydicom")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the realdata file's long UIDs
REALDATA = "dicom-wsi/pathml_small_dicom.dcm"
TILE = 128


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray], dict[str, np.ndarray]]:
    """A lossless (exact) three-level series, level 0 a two-part concatenation, with label and macro."""
    folder = tmp_path_factory.mktemp("remote-dicomwsi") / "series"
    return folder, *write_dicom_wsi(folder, slide_pixels(500, 620), codec="jpeg2000", concatenation=True)


def _opened(s3: LocalS3, url: str, **options: Any) -> tuple[ziggurat.Image, int]:
    """The image at ``url`` and the GETs its open cost (nothing reused from an earlier open)."""
    forget()
    assert s3.proxy is not None
    s3.proxy.reset()
    image = ziggurat.open(url, storage_options=s3.storage_options, decoded_cache=False, **options)
    return image, s3.proxy.reset().gets()


def _whole(level: Any) -> np.ndarray:
    return np.asarray(level.read(tuple((0, n) for n in level.shape)))


def test_a_prefix_or_an_instance_url_reads_the_local_series(s3: LocalS3, series: tuple[Path, Any, Any]) -> None:
    folder, truth, associated = series
    base = s3.upload(folder, "dicomwsi/series")
    objects = len(list(folder.iterdir()))  # 2 level-0 parts, 2 levels, label, macro
    local = ziggurat.open(folder)
    # a prefix: one LIST, then every object's head in one parallel round; an instance: its probe's
    # head and tail, a LIST of itself as a prefix (empty) and of its folder, then its siblings' heads
    for url, bound in ((f"{base}/", 1 + objects), (f"{base}/level0-1.dcm", 2 + 2 + objects - 1)):
        image, gets = _opened(s3, url)
        assert image.backend == "dicomwsi" and gets == bound, (url, gets)
        assert [lv.shape for lv in image.levels] == [lv.shape for lv in local.levels]
        for level, expected in zip(image.levels, truth):
            assert np.array_equal(_whole(level), expected)  # JPEG 2000 lossless: the written pixels
        for name, picture in associated.items():
            assert np.array_equal(np.asarray(image.associated_images[name]), picture)
        assert image.metadata.properties == local.metadata.properties
    again = pickle.loads(pickle.dumps(image))  # a worker reopens the URL with its storage options
    assert np.array_equal(_whole(again.levels[1]), truth[1])


def test_the_realdata_instance_reads_like_the_local_file(s3: LocalS3, realdata: Path) -> None:
    url = s3.upload(realdata / REALDATA, "dicomwsi/one/slide.dcm")
    image, gets = _opened(s3, url)
    assert gets == 4, gets  # head and tail, two LISTs (it is alone in its folder)
    local = ziggurat.open(realdata / REALDATA)
    assert image.levels[0].shape == local.levels[0].shape
    assert np.array_equal(_whole(image.levels[0]), _whole(local.levels[0]))  # column-major, found by seams
    # over plain HTTP (no listing): the instance alone, the same pixels
    s3.client().put_object_acl(Bucket=s3.bucket, Key="dicomwsi/one/slide.dcm", ACL="public-read")
    http = ziggurat.open(f"{s3.endpoint}/{s3.bucket}/dicomwsi/one/slide.dcm", decoded_cache=False)
    assert http.backend == "dicomwsi"
    assert np.array_equal(_whole(http.levels[0]), _whole(local.levels[0]))


def test_an_instance_opens_alone_where_listing_fails(s3: LocalS3, realdata: Path) -> None:
    """Both LISTs answer 503 through all their retries (a bucket without List permission acts alike):
    the instance URL still opens, as the one instance of its series."""
    url = s3.upload(realdata / REALDATA, "dicomwsi/unlisted/slide.dcm")
    forget()
    assert s3.proxy is not None
    s3.proxy.reset()
    s3.proxy.fail(10, after=2)  # after the probe's head and tail: 2 LISTs x (1 + 4 retries)
    image = ziggurat.open(url, storage_options=s3.storage_options, decoded_cache=False)
    assert s3.proxy.reset().injected["fail"] == 10
    assert np.array_equal(_whole(image.levels[0]), _whole(ziggurat.open(realdata / REALDATA).levels[0]))


def test_a_sparse_jpeg_series_reads_like_the_local_one(s3: LocalS3, tmp_path: Path) -> None:
    """TILED_SPARSE: frames placed by their per-frame positions, parsed from the remote headers."""
    write_dicom_wsi(tmp_path / "sparse", slide_pixels(300, 420, seed=9), levels=2, codec="jpeg", sparse=True)
    url = s3.upload(tmp_path / "sparse", "dicomwsi/sparse")
    image, gets = _opened(s3, f"{url}/")
    assert gets == 1 + 4  # LIST, then the 2 levels' and the label's and macro's heads
    local = ziggurat.open(tmp_path / "sparse", decoded_cache=False)
    for ours, theirs in zip(image.levels, local.levels, strict=True):
        assert np.array_equal(_whole(ours), _whole(theirs))  # the same JPEG decoder: equal, gaps white


def _native_series(folder: Path) -> tuple[list[np.ndarray], int]:
    """One uncompressed 768 x 1024 level of 128 x 128 frames (8 per row), and where frame 0's bytes are."""
    levels, _ = write_dicom_wsi(folder, slide_pixels(768, 1024, seed=3), levels=1, tile=TILE, codec="native")
    start = (folder / "level0-1.dcm").read_bytes().find(levels[0][:TILE, :TILE].tobytes())
    assert start > 0
    return levels, start


def _rounds(spans: list[tuple[int, int]]) -> int:
    """How many range GETs the spans make when neighbours closer than REMOTE_GAP are merged."""
    count, end = 0, -(1 << 62)
    for offset, length in sorted(spans):
        count += offset - end >= REMOTE_GAP
        end = max(end, offset + length)
    return count


@pytest.mark.parametrize("cols", [(1, 3), (2, 2)], ids=["three-columns", "one-column"])
def test_a_region_is_one_round_of_coalesced_range_gets(s3: LocalS3, tmp_path: Path, cols: tuple[int, int]) -> None:
    levels, start = _native_series(tmp_path / "native")
    frame = TILE * TILE * 3
    url = s3.upload(tmp_path / "native", "dicomwsi/native")
    image, _ = _opened(s3, f"{url}/")
    rows = (1, 3)
    box = ((rows[0] * TILE + 5, (rows[1] + 1) * TILE - 5), (cols[0] * TILE + 5, (cols[1] + 1) * TILE - 5), (0, 3))
    got = image.levels[0].read(box)
    assert s3.proxy is not None
    gets = s3.proxy.reset().gets()
    spans = [(start + (r * 8 + c) * frame, frame) for r in range(rows[0], rows[1] + 1)
             for c in range(cols[0], cols[1] + 1)]  # fmt: skip
    assert all(offset >= HEAD_BYTES for offset, _ in spans)  # none came with the head
    assert gets == _rounds(spans) == (1 if cols == (1, 3) else 3), gets  # frame rows 5 (or 7) frames apart
    assert np.array_equal(got, levels[0][tuple(slice(a, b) for a, b in box)])


@pytest.mark.parametrize("table", ["empty", "extended"])
def test_instances_without_a_basic_offset_table(s3: LocalS3, tmp_path: Path, table: str) -> None:
    """An empty Basic Offset Table is walked in one large read (not one GET per frame); an Extended
    Offset Table places every frame from the header alone."""
    from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames

    truth, _ = write_dicom_wsi(tmp_path / "written", slide_pixels(500, 620, seed=5), levels=1, codec="jpeg2000")
    ds = pydicom.dcmread(tmp_path / "written" / "level0-1.dcm")
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    if table == "empty":
        ds.PixelData = encapsulate(frames, has_bot=False)
    else:
        ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(frames)
    ds["PixelData"].is_undefined_length = True
    ds.add_new(0x00090010, "LO", "ziggurat test")
    ds.add_new(0x00091010, "OB", b"\0" * (HEAD_BYTES + WHOLE_GAP))  # the frames lie past the head and its gap
    (tmp_path / table).mkdir()
    ds.save_as(tmp_path / table / "level.dcm", enforce_file_format=True)
    url = s3.upload(tmp_path / table / "level.dcm", f"dicomwsi/{table}/level.dcm")
    image, _ = _opened(s3, url.rsplit("/", 1)[0] + "/")
    got = _whole(image.levels[0])
    assert s3.proxy is not None
    gets = s3.proxy.reset().gets()
    assert sum(map(len, frames)) > 2 * BLOCK_BYTES  # past the 64 KiB block the header's end fetched
    assert len(frames) == 20 and gets == (2 if table == "empty" else 1), gets  # the walk, then the frames
    assert np.array_equal(got, truth[0])


@pytest.fixture
def aws_env(s3: LocalS3, monkeypatch: pytest.MonkeyPatch) -> LocalS3:
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    return s3


def test_the_openslide_drop_in_reads_a_dicom_wsi_url(aws_env: LocalS3, series: tuple[Path, Any, Any]) -> None:
    openslide = pytest.importorskip("openslide")
    folder = series[0]
    url = aws_env.upload(folder, "dicomwsi/drop-in")
    with zs.OpenSlide(f"{url}/level0-1.dcm") as ours, openslide.OpenSlide(str(folder / "level0-1.dcm")) as theirs:
        assert ours.level_dimensions == theirs.level_dimensions
        assert ours.level_downsamples == pytest.approx(theirs.level_downsamples)
        for level, (x, y) in ((0, (101, 133)), (2, (0, 0))):
            a = np.asarray(ours.read_region((x, y), level, (300, 200)))
            b = np.asarray(theirs.read_region((x, y), level, (300, 200)))
            assert np.array_equal(a, b), (level, x, y)
    assert isinstance(zs.open_slide(f"{url}/"), zs.OpenSlide)
