"""The OME-Zarr volume store: NGFF validity, other readers agree, direct reads equal the array."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

import ziggurat
from ziggurat.errors import OutOfRangeError
from ziggurat.sources.base import Metadata
from ziggurat.sources.zarrchunks import ChunkReader
from ziggurat.testing.phantom import mri_volume
from ziggurat.writers.convert import convert
from ziggurat.writers.omezarr.builder import MIN_LEVEL, SHARD_BYTES, build_pyramid
from ziggurat.writers.omezarr.inputs import InputArray


def write_like_convert(out: Path, data: object, meta: Metadata, **options: object) -> Path:
    """What ``convert`` asks of the one writer: y-x levels down to 64 px, whole-plane shards, lz4hc-9."""
    defaults = {"halve": "yx", "min_size": MIN_LEVEL, "shard_bytes": SHARD_BYTES, "compression": "lz4hc-9",
                "chunks": "auto"}  # fmt: skip
    return build_pyramid(data, out, meta=meta, **{**defaults, **options})  # type: ignore[arg-type]


def meta_of(vol: ziggurat.Image) -> Metadata:
    return vol.metadata


SHAPE = (40, 70, 90)


@pytest.fixture(scope="module")
def phantom() -> np.ndarray:
    return mri_volume(SHAPE)


@pytest.fixture(scope="module", params=["axial", "isotropic", (7, 16, 50)])
def store(request, phantom: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("store") / "head.zarr"
    affine = np.diag([0.5, 0.6, 2.0, 1.0])
    affine[:3, 3] = [-10, 20, 30]
    return write_like_convert(
        out, phantom, Metadata("array", "zyx", (2.0, 0.6, 0.5), ("millimeter",) * 3, affine), chunks=request.param
    )


def test_reads_equal_the_array(store: Path, phantom: np.ndarray) -> None:
    vol = ziggurat.open(store)
    assert isinstance(vol.levels[0].reader, ChunkReader)  # the direct path is the one under test
    rng = np.random.default_rng(1)
    for _ in range(20):
        lo = rng.integers(0, SHAPE)
        hi = lo + rng.integers(1, np.array(SHAPE) - lo + 1)
        key = tuple(slice(a, b) for a, b in zip(lo, hi))
        np.testing.assert_array_equal(vol[key], phantom[key])
    np.testing.assert_array_equal(vol.axial(17), phantom[17])
    np.testing.assert_array_equal(vol.coronal(33), phantom[:, 33])
    np.testing.assert_array_equal(vol.sagittal(89), phantom[:, :, 89])
    np.testing.assert_array_equal(vol[::3, 5, -10:], phantom[::3, 5, -10:])
    np.testing.assert_array_equal(vol.to_numpy(), phantom)
    with pytest.raises(OutOfRangeError):
        vol.axial(SHAPE[0])


def test_levels_match_zarr_python_and_area_mean(store: Path, phantom: np.ndarray) -> None:
    vol = ziggurat.open(store)
    assert len(vol.levels) == 1  # 70 px: no level below 64 px
    for i, level in enumerate(vol.levels):
        np.testing.assert_array_equal(np.asarray(level), zarr.open_array(store / str(i), mode="r")[...])
    assert vol.spacing == (2.0, 0.6, 0.5)


def test_ngff_metadata_validates_and_ome_zarr_py_reads(store: Path, phantom: np.ndarray) -> None:
    models = pytest.importorskip("ome_zarr_models.v05.image")
    image = models.Image.from_zarr(zarr.open_group(store, mode="r"))
    multiscale = image.attributes.ome.multiscales[0]
    assert [a.name for a in multiscale.axes] == ["z", "y", "x"]
    assert [a.unit for a in multiscale.axes] == ["millimeter"] * 3
    transforms = multiscale.datasets[0].coordinateTransformations
    assert list(transforms[0].scale) == [2.0, 0.6, 0.5]
    assert list(transforms[1].translation) == [30, 20, -10]

    reader = pytest.importorskip("ome_zarr.reader")
    io = pytest.importorskip("ome_zarr.io")
    node = next(iter(reader.Reader(io.parse_url(str(store)))()))
    np.testing.assert_array_equal(np.asarray(node.data[0]), phantom)


def test_store_is_a_handful_of_files(store: Path) -> None:
    files = [p for p in store.rglob("*") if p.is_file()]
    assert len(files) <= 4  # group + array metadata + one shard


def test_reads_ngff_04_zarr_v2_written_by_ome_zarr_py(phantom: np.ndarray, tmp_path: Path) -> None:
    writer = pytest.importorskip("ome_zarr.writer")
    fmt = pytest.importorskip("ome_zarr.format")
    group = zarr.open_group(tmp_path / "v2.zarr", mode="w", zarr_format=2)
    writer.write_image(phantom, group, axes="zyx", fmt=fmt.FormatV04(), scale_factors=[],
                       scale={"z": 3.0, "y": 1.0, "x": 1.0})  # fmt: skip
    vol = ziggurat.open(tmp_path / "v2.zarr")
    assert vol.format == "ome-zarr 0.4"
    assert vol.spacing == (3.0, 1.0, 1.0)
    np.testing.assert_array_equal(vol[3:9, 10:60, 80:], phantom[3:9, 10:60, 80:])


def test_threads_and_pickle(store: Path, phantom: np.ndarray) -> None:
    vol = ziggurat.open(store)
    with ThreadPoolExecutor(4) as pool:
        planes = list(pool.map(vol.axial, range(SHAPE[0])))
    np.testing.assert_array_equal(np.stack(planes), phantom)
    again = pickle.loads(pickle.dumps(vol))
    assert again.path == vol.path
    np.testing.assert_array_equal(again.sagittal(3), phantom[:, :, 3])


def test_planes_are_served_as_images(store: Path, phantom: np.ndarray) -> None:
    image = ziggurat.plane(ziggurat.open(store), "coronal", 12)
    assert isinstance(image, ziggurat.Image)
    np.testing.assert_array_equal(image.read_region((0, 0), 0, (SHAPE[2], SHAPE[0]))[..., 0], phantom[:, 12])
    assert image.mpp == pytest.approx((500.0, 2000.0))


def test_four_d_pyramid(tmp_path: Path) -> None:
    data = mri_volume((8, 160, 140), channels=4)
    vol = ziggurat.from_array(data, axes="czyx", spacing=(1.0, 1.0, 1.0, 1.0))
    store = write_like_convert(tmp_path / "4d.zarr", data, meta_of(vol), chunks="isotropic")
    again = ziggurat.open(store)
    assert again.axes == "czyx"
    np.testing.assert_array_equal(again[2, 3:5], data[2, 3:5])
    assert again.levels[1].shape == (4, 8, 80, 70)
    expected = data[1, 4].reshape(80, 2, 70, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(again.levels[1][1, 4], expected, rtol=1e-6)
    chunking = json.loads((store / "0" / "zarr.json").read_text())["codecs"][0]["configuration"]["chunk_shape"]
    assert chunking == [1, 8, 32, 32]  # one channel per chunk, as the presets always had it
    assert again.axial(4).shape == (4, 160, 140)
    models = pytest.importorskip("ome_zarr_models.v05.image")
    multiscale = models.Image.from_zarr(zarr.open_group(store, mode="r")).attributes.ome.multiscales[0]
    assert [(a.name, a.type) for a in multiscale.axes] == [
        ("c", "channel"),
        ("z", "space"),
        ("y", "space"),
        ("x", "space"),
    ]
    assert [list(d.coordinateTransformations[0].scale) for d in multiscale.datasets] == [[1, 1, 1, 1], [1, 1, 2, 2]]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    meta = Metadata("array", "zyx", (1, 1, 1), affine=np.eye(4))
    with pytest.raises(ziggurat.errors.UnsupportedFormatError):
        write_like_convert(tmp_path / "bad.zarr", np.zeros((4, 4)), meta)
    with pytest.raises(ziggurat.errors.UnsupportedFormatError, match="preset"):
        write_like_convert(tmp_path / "bad.zarr", np.zeros((4, 4, 4)), meta, chunks="diagonal")
    with pytest.raises(ziggurat.errors.UnsupportedFormatError, match="compression"):
        write_like_convert(tmp_path / "bad.zarr", np.zeros((4, 4, 4)), meta, compression="gzip")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_no_store(phantom: np.ndarray, tmp_path: Path) -> None:
    """A failure after some shards were written leaves neither OUT.zarr nor its temporary."""
    meta = Metadata("array", "zyx", (1, 1, 1))

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_like_convert(tmp_path / "i.zarr", phantom, meta, chunks="axial", shard_bytes=70 * 90 * 4, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_shard_raises_typed_error(phantom: np.ndarray, tmp_path: Path) -> None:
    meta = Metadata("array", "zyx", (1, 1, 1), affine=np.eye(4))
    store = write_like_convert(tmp_path / "c.zarr", phantom, meta, chunks="axial")
    shard = next((store / "0").rglob("c/*/*/*"))
    raw = bytearray(shard.read_bytes())
    raw[100:4000] = bytes(3900)
    shard.write_bytes(bytes(raw))
    with pytest.raises(ziggurat.errors.CorruptImageError, match=r"c\.zarr"):
        ziggurat.open(store).to_numpy()


def test_tiff_slice_folder(realdata: Path, tmp_path: Path) -> None:
    folder = realdata / "tiff-stack" / "stent-ct"
    files = sorted(folder.glob("*.tif"))
    expected = np.stack([tifffile.imread(f) for f in files])
    vol = ziggurat.open(folder)
    np.testing.assert_array_equal(vol[100:110, 20:90, 5:6], expected[100:110, 20:90, 5:6])
    store = convert(folder, tmp_path / "stent.zarr", chunks="isotropic")
    np.testing.assert_array_equal(ziggurat.open(store).to_numpy(), expected)


def test_multipage_tiff_as_volume(realdata: Path) -> None:
    path = realdata / "tiff-stack" / "calcium_imaging.tif"
    expected = tifffile.imread(path)
    vol = ziggurat.open(path, backend="tiffstack")
    assert vol.shape == expected.shape
    np.testing.assert_array_equal(vol[500:510], expected[500:510])


def test_bad_stores_and_stacks_raise_typed_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zarr"
    broken.mkdir()
    (broken / "zarr.json").write_text("{not json")
    with pytest.raises(ziggurat.errors.CorruptImageError, match=r"broken\.zarr"):
        ziggurat.open(broken)
    plain = tmp_path / "plain.zarr"
    zarr.create_array(plain, shape=(4, 4, 4), dtype="uint8")[1] = 7  # a bare array (no OME metadata) opens too
    bare = ziggurat.open(plain)
    assert (bare.backend, bare.axes) == ("zarr", "zyx")
    np.testing.assert_array_equal(bare.to_numpy(), zarr.open_array(plain)[:])
    stack = tmp_path / "stack"
    stack.mkdir()
    tifffile.imwrite(stack / "a.tif", np.zeros((8, 8), np.uint16))
    tifffile.imwrite(stack / "b.tif", np.zeros((9, 8), np.uint16))
    with pytest.raises(ziggurat.errors.UnsupportedFormatError, match="stack"):
        ziggurat.open(stack)  # slices of two shapes: not claimed as a stack
    with pytest.raises(ziggurat.errors.CorruptImageError, match="stack"):
        ziggurat.open(stack, backend="tiffstack").to_numpy()  # asked for: the odd slice is reported


def test_write_streams_shard_deep_slabs(tmp_path: Path) -> None:
    """Conversion reads the source one shard-deep z slab at a time; levels equal whole-volume 2x means."""
    data = mri_volume((40, 130, 150))
    reads: list[tuple[tuple[int, int], ...]] = []

    class Counting(InputArray):
        def read(self, box):  # type: ignore[no-untyped-def]
            reads.append(tuple(box))
            return super().read(box)

    store = write_like_convert(
        tmp_path / "s.zarr",
        Counting(data, axes="zyx"),
        Metadata("array", "zyx", (1, 1, 1)),
        chunks="axial",
        shard_bytes=300_000,
        workers=1,
    )  # 3 axial planes of 130 x 150 float32
    assert all(box[1:] == ((0, 130), (0, 150)) for box in reads)  # whole planes
    assert max(b - a for (a, b), *_ in reads) == 3 and sum(b - a for (a, b), *_ in reads) == 40
    stored = sum(p.is_file() for p in (store / "0" / "c").rglob("*"))
    assert stored == sum(bool(data[z : z + 3].any()) for z in range(0, 40, 3))  # slabs of 3; empty ones left out
    vol = ziggurat.open(store)
    np.testing.assert_array_equal(vol.to_numpy(), data)
    expected = data.reshape(40, 65, 2, 75, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(vol.to_numpy(1), expected, rtol=1e-6)
    for i in (0, 1):  # zarr-python, an independent reader, agrees level by level
        np.testing.assert_array_equal(zarr.open_array(store / str(i), mode="r")[...], vol.to_numpy(i))


def test_integer_levels_round_half_up(tmp_path: Path) -> None:
    """Levels of integer volumes use the one 2x reduce: (sum + 2) // 4, on y and x only."""
    data = np.arange(2 * 128 * 130, dtype=np.uint16).reshape(2, 128, 130) % 7
    store = write_like_convert(tmp_path / "u.zarr", data, Metadata("array", "zyx", (3, 1, 1)), chunks="axial")
    level = zarr.open_array(store / "1", mode="r")[...]
    by_hand = (data.reshape(2, 64, 2, 65, 2).astype(np.int64).sum(axis=(2, 4)) + 2) // 4
    np.testing.assert_array_equal(level, by_hand)
    assert level.dtype == np.uint16


def test_background_chunks_are_left_missing(tmp_path: Path) -> None:
    """All-zero chunks (and whole all-zero shards) are not stored, as zarr-python does; -0.0 is kept."""
    data = np.zeros((12, 80, 96), np.float32)
    data[5, 10:20, 30:40] = 7.5
    data[9, 0, 0] = -0.0  # bytes not all 0: must be stored and come back as -0.0
    store = write_like_convert(
        tmp_path / "b.zarr", data, Metadata("array", "zyx", (1, 1, 1)), chunks="axial", shard_bytes=80 * 96 * 4
    )  # fmt: skip  (one slice per shard)
    shards = sorted(int(p.parts[-3]) for p in (store / "0" / "c").rglob("*") if p.is_file())
    assert shards == [5, 9]
    for read in (ziggurat.open(store).to_numpy(), zarr.open_array(store / "0", mode="r")[...]):
        np.testing.assert_array_equal(read, data)
        assert np.signbit(read[9, 0, 0])


def test_shard_layout_is_zarr_pythons(phantom: np.ndarray, tmp_path: Path) -> None:
    """Chunks lie in a shard in zarr-python's (Morton) order, so a patch's chunks are near in the file."""
    from zarr.codecs import BloscCodec

    def chunk_order(shard: Path, per_shard: tuple[int, ...]) -> list[int]:
        n = int(np.prod(per_shard))
        index = np.frombuffer(shard.read_bytes()[-4 - 16 * n : -4], "<u8").reshape(n, 2)
        present = np.flatnonzero(index[:, 0] != 2**64 - 1)
        return present[np.argsort(index[present, 0])].tolist()

    ours = write_like_convert(tmp_path / "ours.zarr", phantom, Metadata("array", "zyx", (1, 1, 1)), chunks=(8, 16, 16))
    blosc = BloscCodec(cname="lz4hc", clevel=9, shuffle="shuffle")
    theirs = zarr.create_array(tmp_path / "theirs.zarr", shape=phantom.shape, dtype=phantom.dtype,
                               chunks=(8, 16, 16), shards=(40, 80, 96), compressors=blosc)  # fmt: skip
    theirs[...] = phantom
    assert json.loads((ours / "0" / "zarr.json").read_text())["chunk_grid"]["configuration"]["chunk_shape"] == [
        40,
        80,
        96,
    ]
    per_shard = (5, 5, 6)
    order = chunk_order(ours / "0" / "c" / "0" / "0" / "0", per_shard)
    assert order == chunk_order(tmp_path / "theirs.zarr" / "c" / "0" / "0" / "0", per_shard)
    assert order != sorted(order)  # not C order
