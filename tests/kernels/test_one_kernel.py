"""One kernel per job: a tile the server renders, the DZI writer's tile and the OME-Zarr pyramid's level
agree exactly for the same input (each made by its own pipeline: synthesized on demand, streamed
band by band, built block by block)."""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import zarr

import ziggurat
from ziggurat.kernels import reduce2
from ziggurat.tiles.grid import DeepZoomGrid
from ziggurat.writers.dzi import write_dzi
from ziggurat.writers.omezarr.builder import build_pyramid

WIDTH, HEIGHT = 2101, 1499  # odd sides: every level has an edge averaged with itself


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def test_server_tile_dzi_tile_and_pyramid_level_agree(pixels: np.ndarray, tmp_path: Path) -> None:
    image = ziggurat.from_array(pixels)
    expected = pixels
    for _ in range(2):  # the 4x level, by the one documented rule (half up), computed here directly
        expected = reduce2(expected, (0, 1))
    sums = np.pad(pixels, ((0, 1), (0, 1), (0, 0)), mode="edge").astype(np.int64)  # independent check of
    half = (sums[0::2, 0::2] + sums[1::2, 0::2] + sums[0::2, 1::2] + sums[1::2, 1::2] + 2) // 4  # the rule
    np.testing.assert_array_equal(reduce2(pixels, (0, 1)), half[: (HEIGHT + 1) // 2, : (WIDTH + 1) // 2])

    grid = DeepZoomGrid(WIDTH, HEIGHT, 256, 0)
    level = grid.level_count - 1 - 2  # downsample 4
    cols, rows = grid.level_tiles[level]
    col, row = cols - 1, rows - 1  # the bottom-right edge tile: odd edges on both axes
    x, y, w, h = grid.tile_bounds(level, col, row)
    truth = expected[y : y + h, x : x + w]

    served = ziggurat.TileService("none://").tile(image, level, col, row, tile_size=256, encoding="numpy")
    np.testing.assert_array_equal(served, truth)

    write_dzi(image, tmp_path / "out", tile_size=256, overlap=0, format="png")
    written = imagecodecs.png_decode((tmp_path / f"out_files/{level}/{col}_{row}.png").read_bytes())
    np.testing.assert_array_equal(written, truth)

    store = build_pyramid(image, tmp_path / "p.zarr", workers=2)
    level2 = zarr.open_array(str(store / "2"), mode="r")[:]  # (c, y, x): NGFF puts channels first
    np.testing.assert_array_equal(np.moveaxis(level2, 0, -1), expected)
