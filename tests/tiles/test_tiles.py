"""Tiles, regions and thumbnails against independent truth: openslide's DeepZoomGenerator pixels,
hand-computed 2x2 means for synthesized levels, and hand-computed windows for styled tiles."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat import TileService
from ziggurat.errors import EncodingError, OutOfRangeError, StyleError
from ziggurat.tiles.grid import DeepZoomGrid

UNCACHED = TileService("none://")  # every call renders


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """f x f block means rounded half up (the one rule of ziggurat.kernels), computed independently."""
    h, w, c = a.shape
    sums = a.reshape(h // f, f, w // f, f, c).astype(np.int64).sum(axis=(1, 3))
    return ((sums + f * f // 2) // (f * f)).astype(np.uint8)


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
            ours = UNCACHED.tile(image, level, col, row, tile_size=254, overlap=1, encoding="numpy")
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
    np.testing.assert_array_equal(UNCACHED.tile(image, top, 1, 2, encoding="numpy"), base[512:768, 256:512])
    np.testing.assert_array_equal(UNCACHED.tile(image, top - 2, 0, 0, encoding="numpy"), quarter[:, :256])
    # 2x is not stored: 2x2 means of 1x
    half = UNCACHED.tile(image, top - 1, 1, 1, encoding="numpy")
    np.testing.assert_array_equal(half, block_mean(base, 2)[256:512, 256:512])
    # 8x comes from the stored 4x level (inverted content proves it), not from 1x
    eighth = UNCACHED.tile(image, top - 3, 0, 0, encoding="numpy")
    np.testing.assert_array_equal(eighth, block_mean(quarter, 2))


def test_synthesized_blocks_are_not_recomputed(one_and_four: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, _, _ = one_and_four
    image = ziggurat.open(path)
    reads: list[tuple[int, ...]] = []
    reader = image.levels[0].reader
    original = reader.read

    def counting(*args: int) -> np.ndarray:
        reads.append(args)
        return original(*args)

    reader.read = counting  # a spy on the real reader: it still reads the file
    top = DeepZoomGrid(1024, 768, 256, 0).level_count - 1
    first = UNCACHED.tile(image, top - 1, 0, 0, encoding="numpy")
    assert reads
    count = len(reads)
    for col in range(2):  # same synthesized block again, and its neighbour in the same block
        UNCACHED.tile(image, top - 1, col, 0, encoding="numpy")
    np.testing.assert_array_equal(UNCACHED.tile(image, top - 1, 0, 0, encoding="numpy"), first)
    assert len(reads) == count


def test_xyz_edge_tiles_are_padded(one_and_four: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, base, _ = one_and_four
    image = ziggurat.open(path)
    # z=2 is full size (1024 / 256 = 4 tiles wide); z=0 fits one tile: 256x192, padded to 256x256
    np.testing.assert_array_equal(UNCACHED.tile(image, 2, 3, 2, grid="xyz", encoding="numpy"),
                                  base[512:768, 768:1024])  # fmt: skip
    z0 = UNCACHED.tile(image, 0, 0, 0, grid="xyz", encoding="numpy", background=7)
    assert z0.shape == (256, 256, 3) and (z0[192:] == 7).all()


def test_styled_16_bit_tile_by_hand() -> None:
    values = np.zeros((300, 300, 1), dtype=np.uint16)
    values[:, :150] = 1000
    values[:, 150:] = 5000
    image = ziggurat.from_array(values)
    png = UNCACHED.tile(image, 9, 0, 0, style={"min": 0, "max": 4000}, encoding="png")
    import imagecodecs

    out = imagecodecs.png_decode(png)
    assert out.shape == (256, 256, 3)
    assert (out[:, :150] == 64).all() and (out[:, 150:] == 255).all()
    raw = UNCACHED.tile(image, 9, 0, 0, encoding="numpy")
    assert raw.dtype == np.uint16 and raw[0, 0, 0] == 1000


def test_cache_hits_return_the_same_bytes(sample_slide: Path) -> None:
    service = TileService("memory://?max=16MB")
    image = ziggurat.open(sample_slide)
    first = service.tile(image, 11, 1, 1, quality=80, passthrough=False)
    assert service.cache.misses == 1 and service.renders == 1
    assert service.tile(image, 11, 1, 1, quality=80, passthrough=False) == first and service.cache.hits == 1
    assert service.renders == 1
    assert service.tile(image, 11, 1, 1, quality=70, passthrough=False) != first  # encoding parameters are in the key
    arr = service.tile(image, 11, 1, 1, encoding="numpy")
    np.testing.assert_array_equal(service.tile(image, 11, 1, 1, encoding="numpy"), arr)
    # another Image of the same file, through another service on the same cache: the same key
    again = TileService(service.cache)
    assert again.tile(ziggurat.open(sample_slide), 11, 1, 1, quality=80, passthrough=False) == first
    assert again.renders == 0
    assert np.abs(ziggurat.open(sample_slide).read_region((512, 512), 1, (256, 256)).astype(int) - arr).max() == 0


def test_whole_stored_jpeg_tiles_pass_through(sample_slide: Path) -> None:
    import imagecodecs

    image = ziggurat.open(sample_slide)
    sent = UNCACHED.tile(image, 12, 2, 1)  # level 0, exactly stored tile (row 1, col 2)
    assert sent == image.levels[0].raw_tiles([(1, 2)])[0]
    pixels = UNCACHED.tile(image, 12, 2, 1, encoding="numpy")
    np.testing.assert_array_equal(imagecodecs.jpeg8_decode(sent), pixels)
    edge = UNCACHED.tile(image, 12, 11, 7)  # a partial edge tile is cut and re-encoded
    assert imagecodecs.jpeg8_decode(edge).shape == (2000 - 7 * 256, 3000 - 11 * 256, 3)


def test_region_and_thumbnail(sample_slide: Path) -> None:
    image = ziggurat.open(sample_slide)
    npy = UNCACHED.region(image, 100, 200, 300, 150, level=1, encoding="npy")
    np.testing.assert_array_equal(np.load(io.BytesIO(npy)), image.read_region((100, 200), 1, (300, 150), fill=255))
    thumb = UNCACHED.thumbnail(image, 300, encoding="numpy")
    np.testing.assert_array_equal(thumb, image.get_thumbnail(300))
    assert TileService().thumbnail(image, 300)[:3] == b"\xff\xd8\xff"


def test_bad_requests_raise_typed_errors(sample_slide: Path) -> None:
    image = ziggurat.open(sample_slide)
    with pytest.raises(OutOfRangeError):
        UNCACHED.tile(image, 12, 99, 0)
    with pytest.raises(OutOfRangeError):
        UNCACHED.tile(image, 40, 0, 0)
    with pytest.raises(OutOfRangeError, match="grid"):
        UNCACHED.tile(image, 1, 0, 0, grid="tms")
    with pytest.raises(EncodingError):
        UNCACHED.tile(image, 1, 0, 0, encoding="bmp")
    with pytest.raises(StyleError, match="gamma"):
        UNCACHED.tile(image, 1, 0, 0, style={"gamma": 0})


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
    service = TileService("memory://?max=8MB")
    image = ziggurat.open(path)
    top = DeepZoomGrid(1024, 768, 256, 0).level_count - 1
    wanted = [(top, c, r) for c in range(4) for r in range(3)] * 3
    with ThreadPoolExecutor(4) as pool:
        tiles = list(pool.map(lambda t: service.tile(image, *t, encoding="numpy"), wanted))
    for (_, c, r), got in zip(wanted, tiles):
        np.testing.assert_array_equal(got, base[r * 256 : (r + 1) * 256, c * 256 : (c + 1) * 256])


def test_in_memory_images_never_share_cache_entries() -> None:
    service = TileService("memory://?max=4MB")
    for value in range(5):  # each image may reuse a freed one's id(); its tiles must not
        image = ziggurat.from_array(np.full((64, 64, 3), value, dtype=np.uint8))
        assert (service.tile(image, 6, 0, 0, encoding="numpy") == value).all()


def test_synthesized_blocks_live_in_the_services_decoded_lru(one_and_four: tuple[Path, np.ndarray, np.ndarray]) -> None:
    from ziggurat.cache import LRU

    path, base, _ = one_and_four
    decoded: LRU[object, object] = LRU(64 * 2**20)
    service = TileService("none://", decoded=decoded)
    top = DeepZoomGrid(1024, 768, 256, 0).level_count - 1
    image = ziggurat.open(path)
    half = service.tile(image, top - 1, 0, 0, encoding="numpy")
    np.testing.assert_array_equal(half, block_mean(base, 2)[:256, :256])
    assert len(decoded) == 1 and decoded.misses == 1  # one 512-pixel block of the 2x level
    service.tile(image, top - 1, 1, 0, encoding="numpy")  # the neighbour comes from the same block
    assert len(decoded) == 1 and decoded.hits == 1


def test_tiles_are_shared_through_redis_between_processes(sample_slide: Path, tmp_path: Path) -> None:
    """``ziggurat tile --cache redis://`` in another process stores the key the library finds."""
    import subprocess
    import sys

    from ziggurat.testing.servers import LocalServer

    with LocalServer("redis") as redis:
        out = tmp_path / "t.jpeg"
        subprocess.run([sys.executable, "-m", "ziggurat.cli", "tile", str(sample_slide), "11", "2", "1", "-o", str(out),
                        "--style", '{"invert": true}', "--cache", redis.url], check=True)  # fmt: skip
        service = TileService(redis.url)
        assert service.tile(ziggurat.open(sample_slide), 11, 2, 1, style={"invert": True}) == out.read_bytes()
        assert service.renders == 0 and service.cache.hits == 1


def _snippet(path: Path, after: str) -> str:
    """The first ```python block after the line containing ``after`` in a Markdown file."""
    text = path.read_text()
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start : text.index("```", start)]


def test_readme_and_api_doc_tile_examples_run(
    sample_slide: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ziggurat.testing.servers import LocalServer

    repo = Path(__file__).resolve().parents[2]
    slide = tmp_path / "slide.svs"
    slide.symlink_to(sample_slide)
    monkeypatch.chdir(tmp_path)
    with LocalServer("redis") as redis, LocalServer("memcached") as memcached:
        for doc, after, port in ((repo / "README.md", "through a memory, memcached or redis cache", redis.port),
                                 (repo / "docs" / "api.md", "## Tiles, styles", memcached.port)):  # fmt: skip
            code = _snippet(doc, after).replace(":6379", f":{port}").replace(":11211", f":{port}")
            scope: dict[str, object] = {"ziggurat": ziggurat}  # imported at the top of each document
            exec(compile(code, str(doc), "exec"), scope)
            assert isinstance(scope["jpeg"], bytes) and scope["jpeg"][:3] == b"\xff\xd8\xff"
            assert isinstance(scope["tiles"], TileService) and scope["tiles"].cache.stats()["errors"] == 0
