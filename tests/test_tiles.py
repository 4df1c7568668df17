"""Tiles, regions and thumbnails against independent truth: openslide's DeepZoomGenerator pixels,
hand-computed 2x2 means for synthesized levels, and hand-computed windows for styled tiles."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.errors import EncodingError, OutOfRangeError, StyleError
from ziggurat.tiles.grid import DeepZoomGrid

NOCACHE = {"cache": "none://"}


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """f x f block means, rounded half to even, computed independently of ziggurat.kernels.resize."""
    h, w, c = a.shape
    return np.rint(a.reshape(h // f, f, w // f, f, c).mean(axis=(1, 3))).astype(np.uint8)


@pytest.fixture(scope="module")
def one_and_four(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A lossless slide stored at 1x and 4x only; the 4x level is NOT the mean of 1x (inverted)."""
    rng = np.random.default_rng(4)
    base = rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    quarter = 255 - block_mean(base, 4)
    path = tmp_path_factory.mktemp("synth") / "one-four.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(base, tile=(256, 256), photometric="rgb", compression="zlib")
        tw.write(quarter, tile=(256, 256), photometric="rgb", compression="zlib", subfiletype=1)
    return path, base, quarter


def test_dz_tiles_match_openslide_deepzoom(sample_slide: Path) -> None:
    openslide = pytest.importorskip("openslide")
    from openslide.deepzoom import DeepZoomGenerator

    image = ziggurat.open(sample_slide)
    dz = DeepZoomGenerator(openslide.OpenSlide(str(sample_slide)), tile_size=254, overlap=1)
    grid = DeepZoomGrid(*image.dimensions, 254, 1)
    assert dz.level_count == grid.level_count
    for level in range(dz.level_count):
        cols, rows = dz.level_tiles[level]
        for col, row in {(0, 0), (cols - 1, rows - 1), (cols // 2, rows // 2)}:
            ours = image.tile(level, col, row, tile_size=254, overlap=1, encoding="numpy", **NOCACHE)
            theirs = np.asarray(dz.get_tile(level, (col, row)).convert("RGB"))
            *_, w, h = grid.tile_bounds(level, col, row)
            assert ours.shape == (h, w, 3)
            if theirs.shape != ours.shape:
                # openslide shrinks a read to a synthesized size with PIL's thumbnail(), which keeps
                # the aspect ratio and so may lose a pixel on one side (47x32 -> 47x31, 2x1 -> 1x1)
                assert grid.downsample(level) > 8 and abs(theirs.shape[0] - h) + abs(theirs.shape[1] - w) == 1
                continue
            diff = np.abs(ours.astype(int) - theirs)
            if grid.downsample(level) <= 8:  # a stored level: the same decoded pixels
                assert diff.max() == 0, (level, col, row)
            else:  # synthesized: our 2x2 area means vs openslide's Lanczos resize
                assert diff.mean() < 6, (level, col, row, diff.mean())


def test_synthesized_levels_from_next_finer(one_and_four: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, base, quarter = one_and_four
    image = ziggurat.open(path)
    top = DeepZoomGrid(1024, 768, 256, 0).level_count - 1
    # 1x and 4x are stored: read as they are
    np.testing.assert_array_equal(image.tile(top, 1, 2, encoding="numpy", **NOCACHE), base[512:768, 256:512])
    np.testing.assert_array_equal(image.tile(top - 2, 0, 0, encoding="numpy", **NOCACHE), quarter[:, :256])
    # 2x is not stored: 2x2 means of 1x
    half = image.tile(top - 1, 1, 1, encoding="numpy", **NOCACHE)
    np.testing.assert_array_equal(half, block_mean(base, 2)[256:512, 256:512])
    # 8x comes from the stored 4x level (inverted content proves it), not from 1x
    eighth = image.tile(top - 3, 0, 0, encoding="numpy", **NOCACHE)
    np.testing.assert_array_equal(eighth, block_mean(quarter, 2))


def test_synthesized_blocks_are_not_recomputed(one_and_four: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, _, _ = one_and_four
    image = ziggurat.open(path)
    reads: list[tuple[int, ...]] = []
    reader = image.levels[0]._reader
    original = reader.read

    def counting(*args: int) -> np.ndarray:
        reads.append(args)
        return original(*args)

    reader.read = counting  # a spy on the real reader: it still reads the file
    top = DeepZoomGrid(1024, 768, 256, 0).level_count - 1
    first = image.tile(top - 1, 0, 0, encoding="numpy", **NOCACHE)
    assert reads
    count = len(reads)
    for col in range(2):  # same synthesized block again, and its neighbour in the same block
        image.tile(top - 1, col, 0, encoding="numpy", **NOCACHE)
    np.testing.assert_array_equal(image.tile(top - 1, 0, 0, encoding="numpy", **NOCACHE), first)
    assert len(reads) == count


def test_xyz_edge_tiles_are_padded(one_and_four: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, base, _ = one_and_four
    image = ziggurat.open(path)
    # z=2 is full size (1024 / 256 = 4 tiles wide); z=0 fits one tile: 256x192, padded to 256x256
    np.testing.assert_array_equal(image.tile(2, 3, 2, grid="xyz", encoding="numpy", **NOCACHE),
                                  base[512:768, 768:1024])  # fmt: skip
    z0 = image.tile(0, 0, 0, grid="xyz", encoding="numpy", background=7, **NOCACHE)
    assert z0.shape == (256, 256, 3) and (z0[192:] == 7).all()


def test_styled_16_bit_tile_by_hand() -> None:
    values = np.zeros((300, 300, 1), dtype=np.uint16)
    values[:, :150] = 1000
    values[:, 150:] = 5000
    image = ziggurat.from_array(values)
    png = image.tile(9, 0, 0, style={"min": 0, "max": 4000}, encoding="png", **NOCACHE)
    import imagecodecs

    out = imagecodecs.png_decode(png)
    assert out.shape == (256, 256, 3)
    assert (out[:, :150] == 64).all() and (out[:, 150:] == 255).all()
    raw = image.tile(9, 0, 0, encoding="numpy", **NOCACHE)
    assert raw.dtype == np.uint16 and raw[0, 0, 0] == 1000


def test_cache_hits_return_the_same_bytes(sample_slide: Path) -> None:
    image = ziggurat.open(sample_slide, cache="memory://?max=16MB")
    first = image.tile(11, 1, 1, quality=80, passthrough=False)
    assert image.tile_cache.misses == 1
    assert image.tile(11, 1, 1, quality=80, passthrough=False) == first and image.tile_cache.hits == 1
    assert image.tile(11, 1, 1, quality=70, passthrough=False) != first  # encoding parameters are in the key
    arr = image.tile(11, 1, 1, encoding="numpy")
    np.testing.assert_array_equal(image.tile(11, 1, 1, encoding="numpy"), arr)
    assert np.abs(ziggurat.open(sample_slide).read_region((512, 512), 1, (256, 256)).astype(int) - arr).max() == 0


def test_whole_stored_jpeg_tiles_pass_through(sample_slide: Path) -> None:
    import imagecodecs

    image = ziggurat.open(sample_slide)
    sent = image.tile(12, 2, 1, **NOCACHE)  # level 0, exactly stored tile (row 1, col 2)
    assert sent == image.levels[0].raw_tiles([(1, 2)])[0]
    pixels = image.tile(12, 2, 1, encoding="numpy", **NOCACHE)
    np.testing.assert_array_equal(imagecodecs.jpeg8_decode(sent), pixels)
    edge = image.tile(12, 11, 7, **NOCACHE)  # a partial edge tile is cut and re-encoded
    assert imagecodecs.jpeg8_decode(edge).shape == (2000 - 7 * 256, 3000 - 11 * 256, 3)


def test_region_and_thumbnail(sample_slide: Path) -> None:
    image = ziggurat.open(sample_slide)
    npy = image.region(100, 200, 300, 150, level=1, encoding="npy", **NOCACHE)
    np.testing.assert_array_equal(np.load(io.BytesIO(npy)), image.read_region((100, 200), 1, (300, 150), fill=255))
    thumb = image.thumbnail(300, encoding="numpy", **NOCACHE)
    np.testing.assert_array_equal(thumb, image.get_thumbnail(300))
    assert image.thumbnail(300)[:3] == b"\xff\xd8\xff"


def test_bad_requests_raise_typed_errors(sample_slide: Path) -> None:
    image = ziggurat.open(sample_slide)
    with pytest.raises(OutOfRangeError):
        image.tile(12, 99, 0)
    with pytest.raises(OutOfRangeError):
        image.tile(40, 0, 0)
    with pytest.raises(OutOfRangeError, match="grid"):
        image.tile(1, 0, 0, grid="tms")
    with pytest.raises(EncodingError):
        image.tile(1, 0, 0, encoding="bmp")
    with pytest.raises(StyleError, match="gamma"):
        image.tile(1, 0, 0, style={"gamma": 0})


def test_cli_tile_writes_a_tile(sample_slide: Path, tmp_path: Path) -> None:
    from ziggurat.cli import main

    out = tmp_path / "t.png"
    assert main(["tile", str(sample_slide), "10", "0", "0", "-o", str(out), "--encoding", "png",
                 "--style", "viridis", "--cache", "memory://?max=1MB"]) == 2  # fmt: skip
    assert main(["tile", str(sample_slide), "10", "0", "0", "-o", str(out), "--encoding", "png",
                 "--cache", "memory://?max=1MB"]) == 0  # fmt: skip
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_threads_share_one_image_and_cache(one_and_four: tuple[Path, np.ndarray, np.ndarray]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path, base, _ = one_and_four
    image = ziggurat.open(path, cache="memory://?max=8MB")
    top = DeepZoomGrid(1024, 768, 256, 0).level_count - 1
    wanted = [(top, c, r) for c in range(4) for r in range(3)] * 3
    with ThreadPoolExecutor(4) as pool:
        tiles = list(pool.map(lambda t: image.tile(*t, encoding="numpy"), wanted))
    for (_, c, r), got in zip(wanted, tiles):
        np.testing.assert_array_equal(got, base[r * 256 : (r + 1) * 256, c * 256 : (c + 1) * 256])


def test_in_memory_images_never_share_cache_entries() -> None:
    cache = "memory://?max=4MB"
    for value in range(5):  # each image may reuse a freed one's id(); its tiles must not
        image = ziggurat.from_array(np.full((64, 64, 3), value, dtype=np.uint8))
        assert (image.tile(6, 0, 0, encoding="numpy", cache=cache) == value).all()
