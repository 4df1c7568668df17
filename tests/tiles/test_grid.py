"""DeepZoom / XYZ grid geometry against openslide's DeepZoomGenerator and libvips dzsave."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ziggurat.errors import OutOfRangeError
from ziggurat.tiles.grid import DeepZoomGrid, XYZGrid

# (width, height, tile_size, overlap): odd sizes, tiny images, exact multiples, one-pixel edges
CASES = [
    (1, 1, 254, 1), (3, 2, 254, 1), (1000, 700, 254, 1), (255, 1, 254, 1), (509, 508, 254, 0),
    (1017, 255, 254, 2), (777, 1313, 100, 3), (512, 512, 256, 0), (513, 257, 256, 0),
    (1, 1000, 64, 1), (4097, 3001, 510, 1),
]  # fmt: skip


def test_level_dimensions_hand_computed() -> None:
    grid = DeepZoomGrid(1000, 700)
    # ceil halving from 1000 x 700 down to 1 x 1
    expected = [(1000, 700), (500, 350), (250, 175), (125, 88), (63, 44), (32, 22), (16, 11),
                (8, 6), (4, 3), (2, 2), (1, 1)]  # fmt: skip
    assert grid.level_dimensions == tuple(reversed(expected))
    assert grid.level_count == 11
    assert grid.level_tiles[-1] == (4, 3)  # ceil(1000/254), ceil(700/254)
    assert grid.downsample(10) == 1 and grid.downsample(0) == 1024
    assert grid.tile_bounds(10, 0, 0) == (0, 0, 255, 255)
    assert grid.tile_bounds(10, 1, 1) == (253, 253, 256, 256)
    assert grid.tile_bounds(10, 3, 2) == (761, 507, 1000 - 761, 700 - 507)
    assert grid.level0_bounds(9, 1, 0) == (506, 0, 494, 510)  # level 9 is 500 x 350
    assert grid.tile_count == sum(c * r for c, r in grid.level_tiles)


@pytest.mark.parametrize("width,height,tile,overlap", CASES)
def test_matches_openslide_deepzoom(width: int, height: int, tile: int, overlap: int) -> None:
    PIL = pytest.importorskip("PIL.Image")
    deepzoom = pytest.importorskip("openslide.deepzoom")
    from openslide import ImageSlide

    dz = deepzoom.DeepZoomGenerator(ImageSlide(PIL.new("RGB", (width, height))), tile, overlap)
    grid = DeepZoomGrid(width, height, tile, overlap)
    assert grid.level_count == dz.level_count
    assert grid.level_dimensions == dz.level_dimensions
    assert grid.level_tiles == dz.level_tiles
    assert grid.tile_count == dz.tile_count
    for level in range(dz.level_count):
        cols, rows = dz.level_tiles[level]
        d = grid.downsample(level)
        for col in range(cols):
            for row in range(rows):
                (l0_location, _, _), z_size = dz._get_tile_info(level, (col, row))
                x, y, w, h = grid.tile_bounds(level, col, row)
                assert (x * d, y * d) == l0_location
                if overlap <= 1:
                    assert (w, h) == z_size
                else:  # openslide's z_size may reach past the level; dzsave and we cut it there
                    lw, lh = dz.level_dimensions[level]
                    assert (w, h) == (min(z_size[0], lw - x), min(z_size[1], lh - y))


def _vips_tile_sizes(out: Path, layout_dz: bool) -> dict[tuple[int, int, int], tuple[int, int]]:
    """{(level, col, row): (w, h)} of the PNG tiles dzsave wrote."""
    from PIL import Image as PILImage

    sizes = {}
    root = Path(f"{out}_files") if layout_dz else out
    for path in root.rglob("*.png"):
        if path.name == "blank.png":
            continue
        if layout_dz:
            level, (col, row) = int(path.parent.name), map(int, path.stem.split("_"))
        else:
            level, row, col = (
                int(path.parent.parent.name),
                int(path.parent.name),
                int(path.stem),
            )
        with PILImage.open(path) as im:
            sizes[level, col, row] = im.size
    return sizes


@pytest.mark.parametrize("width,height,tile,overlap", CASES)
def test_matches_vips_dzsave(tmp_path: Path, width: int, height: int, tile: int, overlap: int) -> None:
    pyvips = pytest.importorskip("pyvips")
    out = tmp_path / "vips"
    pyvips.Image.black(width, height, bands=3).dzsave(str(out), tile_size=tile, overlap=overlap, suffix=".png")
    grid = DeepZoomGrid(width, height, tile, overlap)
    expected = {
        (level, col, row): grid.tile_bounds(level, col, row)[2:]
        for level in range(grid.level_count)
        for col in range(grid.level_tiles[level][0])
        for row in range(grid.level_tiles[level][1])
    }
    assert _vips_tile_sizes(out, True) == expected


@pytest.mark.parametrize("width,height", [(1000, 700), (256, 256), (257, 100), (513, 1025), (100, 50)])
def test_xyz_matches_vips_google_layout(tmp_path: Path, width: int, height: int) -> None:
    pyvips = pytest.importorskip("pyvips")
    out = tmp_path / "google"
    # a non-blank image, so dzsave writes every tile (it skips blank ones in google layout)
    image = pyvips.Image.black(width, height, bands=3) + 128
    image.dzsave(str(out), layout="google", suffix=".png")
    grid = XYZGrid(width, height)
    found = _vips_tile_sizes(out, False)
    assert set(found) == {
        (z, col, row)
        for z in range(grid.level_count)
        for col in range(grid.level_tiles[z][0])
        for row in range(grid.level_tiles[z][1])
    }
    assert set(found.values()) == {(256, 256)}  # google tiles are always full size
    z = grid.level_count - 1
    assert grid.level_dimensions[z] == (width, height)
    assert max(grid.level_dimensions[0]) <= 256
    assert grid.level_count == 1 + max(0, math.ceil(math.log2(max(width, height) / 256)))


def test_xyz_bounds_clip_to_image() -> None:
    grid = XYZGrid(1000, 700)
    assert grid.level_dimensions == ((250, 175), (500, 350), (1000, 700))
    assert grid.tile_bounds(2, 3, 2) == (768, 512, 232, 188)
    assert grid.tile_bounds(0, 0, 0) == (0, 0, 250, 175)
    assert grid.overlap == 0 and grid.downsample(0) == 4


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.tile_bounds(-1, 0, 0),
        lambda g: g.tile_bounds(11, 0, 0),
        lambda g: g.tile_bounds(10, 4, 0),
        lambda g: g.tile_bounds(10, 0, 3),
        lambda g: g.tile_bounds(10, -1, 0),
        lambda g: g.tile_bounds(10, 0.5, 0),
        lambda g: g.downsample(11),
    ],
)
def test_out_of_grid_raises(call) -> None:
    with pytest.raises(OutOfRangeError):
        call(DeepZoomGrid(1000, 700))


@pytest.mark.parametrize("args", [(0, 10), (10, -1), (10, 10, 0), (10, 10, 254, -1), (1.5, 10)])
def test_bad_parameters_raise(args: tuple) -> None:
    with pytest.raises(OutOfRangeError):
        DeepZoomGrid(*args)


def test_numpy_integers_accepted() -> None:
    grid = DeepZoomGrid(np.int64(1000), np.int32(700))
    assert grid.tile_bounds(np.int64(10), np.int64(1), np.uint8(1)) == (
        253,
        253,
        256,
        256,
    )
    assert all(type(v) is int for v in grid.tile_bounds(np.int64(10), np.int64(1), 0))


def test_tiles_cover_each_level_exactly() -> None:
    """Without overlap the tiles of every level partition it; with overlap they reach 1 px past."""
    for grid in (DeepZoomGrid(777, 1313, 100, 0), XYZGrid(777, 1313)):
        for level, (w, h) in enumerate(grid.level_dimensions):
            cover = np.zeros((h, w), np.int32)
            cols, rows = grid.level_tiles[level]
            for c in range(cols):
                for r in range(rows):
                    x, y, tw, th = grid.tile_bounds(level, c, r)
                    cover[y : y + th, x : x + tw] += 1
            assert (cover == 1).all()
