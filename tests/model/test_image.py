"""The Image model on generated files covering the odd cases, against tifffile's full decode."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.errors import OutOfRangeError


def _noise(shape: tuple[int, ...], dtype: str = "uint8", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    base = rng.integers(0, top, shape, dtype=dtype)
    return base


def _truth(path: Path, level: int = 0) -> np.ndarray:
    data = tifffile.TiffFile(path).series[0].levels[level].asarray()
    return data if data.ndim == 3 else data[..., None]


CASES = {
    # name: (writer kwargs, array shape)
    "tiled-nonsquare-zlib": ({"tile": (128, 256), "compression": "zlib"}, (1000, 1300, 3)),
    "tiled-jpeg-odd-size": ({"tile": (256, 256), "compression": "jpeg", "photometric": "rgb"}, (777, 1025, 3)),
    "striped-lzw": ({"rowsperstrip": 37, "compression": "lzw"}, (501, 333, 3)),
    "striped-uncompressed-gray16": ({"rowsperstrip": 1}, (300, 257)),
    "bigtiff-tiled": ({"tile": (64, 64), "compression": "zstd", "bigtiff": True}, (200, 300, 3)),
    "planar-separate-tiled": (
        {"tile": (64, 128), "compression": "zlib", "planarconfig": "separate", "photometric": "rgb"},
        (3, 300, 400),
    ),
    "planar-separate-contiguous": ({"planarconfig": "separate", "photometric": "rgb"}, (3, 120, 90)),
    "float32-tiled": ({"tile": (32, 32), "compression": "zlib"}, (100, 70)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_cases_equal_tifffile(tmp_path: Path, case: str) -> None:
    kwargs, shape = CASES[case]
    kwargs = dict(kwargs)
    bigtiff = kwargs.pop("bigtiff", False)
    dtype = "float32" if case.startswith("float") else ("uint16" if "16" in case else "uint8")
    data = np.random.default_rng(2).random(shape).astype(dtype) if dtype == "float32" else _noise(shape, dtype)
    path = tmp_path / f"{case}.tif"
    tifffile.imwrite(path, data, bigtiff=bigtiff, **kwargs)
    truth = _truth(path)
    if kwargs.get("planarconfig") == "separate":
        truth = np.moveaxis(tifffile.imread(path), 0, -1)
    with ziggurat.open(path) as image:
        level = image.levels[0]
        assert level.shape == truth.shape and level.dtype == truth.dtype
        np.testing.assert_array_equal(level[:, :], truth)
        h, w = truth.shape[:2]
        rng = np.random.default_rng(3)
        for _ in range(20):
            y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
            y1, x1 = int(rng.integers(y0, h + 1)), int(rng.integers(x0, w + 1))
            np.testing.assert_array_equal(level[y0:y1, x0:x1], truth[y0:y1, x0:x1])
        # the last (partial) tile row and column
        np.testing.assert_array_equal(level[h - 5 :, w - 7 :], truth[h - 5 :, w - 7 :])


def test_ome_pyramid_16bit_multichannel(tmp_path: Path) -> None:
    data = _noise((4, 600, 800), "uint16")
    path = tmp_path / "pyramid.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tif:
        meta = {"axes": "CYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.5,
                "Channel": {"Name": ["DAPI", "FITC", "TRITC", "Cy5"]}}  # fmt: skip
        tif.write(data, tile=(128, 128), compression="zlib", subifds=2, metadata=meta)
        tif.write(data[:, ::2, ::2], tile=(128, 128), compression="zlib", subfiletype=1)
        tif.write(data[:, ::4, ::4], tile=(128, 128), compression="zlib", subfiletype=1)
    with ziggurat.open(path) as image:
        assert image.format == "ome-tiff"
        assert image.level_count == 3
        assert image.level_dimensions == ((800, 600), (400, 300), (200, 150))
        assert image.mpp == pytest.approx((0.325, 0.5))
        assert image.channel_names == ["DAPI", "FITC", "TRITC", "Cy5"]
        for i, step in enumerate((1, 2, 4)):
            expected = np.moveaxis(data[:, ::step, ::step], 0, -1)
            np.testing.assert_array_equal(image.levels[i][:, :], expected)
        region = image.read_region((400, 200), 1, (100, 50))
        np.testing.assert_array_equal(region, np.moveaxis(data[:, ::2, ::2], 0, -1)[100:150, 200:300])


def test_missing_levels_and_best_level(tmp_path: Path) -> None:
    """A slide stored at 1x and 4x only: the 4x level is found and read, nothing invented."""
    data = _noise((1024, 1024, 3))
    path = tmp_path / "gap.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(data, tile=(256, 256), compression="zlib")
        tif.write(data[::4, ::4], tile=(256, 256), compression="zlib", subfiletype=1)
    with ziggurat.open(path) as image:
        assert image.level_downsamples == (1.0, 4.0)
        assert image.get_best_level_for_downsample(2) == 0
        assert image.get_best_level_for_downsample(4) == 1
        assert image.get_best_level_for_downsample(100) == 1
        np.testing.assert_array_equal(image.read_region((400, 800), 1, (30, 20)), data[::4, ::4][200:220, 100:130])


def test_read_region_padding_and_alpha() -> None:
    data = _noise((50, 60, 3))
    image = ziggurat.from_array(data)
    out = image.read_region((-10, -5), 0, (30, 20), rgba=True)
    assert out.shape == (20, 30, 4)
    np.testing.assert_array_equal(out[5:, 10:, :3], data[:15, :20])
    assert (out[:5, :, 3] == 0).all() and (out[:, :10, 3] == 0).all()
    assert (out[5:, 10:, 3] == 255).all()
    assert (out[:5, :, :3] == 0).all()
    white = image.read_region((55, 45), 0, (10, 10), fill=255)
    np.testing.assert_array_equal(white[:5, :5], data[45:, 55:])
    assert (white[5:] == 255).all()
    wholly_outside = image.read_region((1000, 1000), 0, (4, 4), rgba=True)
    assert (wholly_outside == 0).all()


def test_level_slicing_semantics() -> None:
    data = _noise((40, 50, 2))
    level = ziggurat.from_array(data).levels[0]
    np.testing.assert_array_equal(level[-10:, ::3], data[-10:, ::3])
    np.testing.assert_array_equal(level[5, 7:9], data[5, 7:9])
    np.testing.assert_array_equal(level[..., 1], data[..., 1])
    np.testing.assert_array_equal(np.asarray(level), data)
    with pytest.raises(OutOfRangeError):
        level[40, 0]
    with pytest.raises(OutOfRangeError):
        level[::-1]


def test_out_of_range_levels_and_sizes(sample_slide: Path) -> None:
    with ziggurat.open(sample_slide) as image:
        with pytest.raises(OutOfRangeError, match="level 9"):
            image.read_region((0, 0), 9, (10, 10))
        with pytest.raises(OutOfRangeError):
            image.read_region((0, 0), -1, (10, 10))
        with pytest.raises(OutOfRangeError):
            image.read_region((0, 0), 0, (-1, 10))
        with pytest.raises(OutOfRangeError):
            image.levels[0].read(((0, 10_000), (0, 10), (0, 3)))


def test_thumbnail_is_area_average(sample_slide: Path) -> None:
    with ziggurat.open(sample_slide) as image:
        thumb = image.get_thumbnail((300, 300))
        assert thumb.shape == (200, 300, 3)
        # 10x10 block means of level 0, computed independently
        full = image.levels[0][:, :].astype(np.float64)
        blocks = full.reshape(200, 10, 300, 10, 3).mean(axis=(1, 3))
        assert np.abs(thumb - blocks).mean() < 3.0


def _read(args: tuple) -> np.ndarray:
    image, location, size = args
    return image.read_region(location, 0, size)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_images_cross_process_boundaries(sample_slide: Path, method: str) -> None:
    image = ziggurat.open(sample_slide)
    image.read_region((0, 0), 0, (300, 300))  # warm file handle and decode threads in the parent
    jobs = [(image, (x, x // 2), (257, 129)) for x in range(0, 2500, 500)]
    expected = [_read(job) for job in jobs]
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map(_read, jobs, chunksize=1)
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)
    clone = pickle.loads(pickle.dumps(image))
    np.testing.assert_array_equal(clone.read_region((5, 5), 1, (64, 64)), image.read_region((5, 5), 1, (64, 64)))


def test_array_image_pickles_with_data() -> None:
    data = _noise((30, 40, 3))
    clone = pickle.loads(pickle.dumps(ziggurat.from_array([data, data[::2, ::2]], mpp=(0.5, 0.5))))
    assert clone.mpp == (0.5, 0.5) and clone.level_count == 2
    np.testing.assert_array_equal(clone.levels[1][:, :], data[::2, ::2])


def test_concurrent_reads_from_many_threads(sample_slide: Path) -> None:
    truth = tifffile.imread(sample_slide)
    image = ziggurat.open(sample_slide, decoded_cache=False)
    errors: list[str] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(30):
            x, y = int(rng.integers(0, 2700)), int(rng.integers(0, 1700))
            got = image.read_region((x, y), 0, (300, 300))
            if not np.array_equal(got, truth[y : y + 300, x : x + 300]):
                errors.append(f"mismatch at {x},{y}")

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
