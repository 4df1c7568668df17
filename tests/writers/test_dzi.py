"""write_dzi / ``ziggurat dzi``: geometry and pixels against libvips dzsave and openslide's
DeepZoomGenerator, pass-through copies, atomic output, bad tiles, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

from ziggurat.cli import main
from ziggurat.errors import CorruptImageError, EncodingError
from ziggurat.io.atomic import OutputExistsError
from ziggurat.tiles.grid import DeepZoomGrid
from ziggurat.writers.dzi import write_dzi


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def read_tiles(files: Path, ext: str, google: bool = False) -> dict[tuple[int, int, int], np.ndarray]:
    """{(level, col, row): pixels} of a DeepZoom ``_files`` folder or a google ``z/y/x`` tree."""
    tiles = {}
    for path in files.rglob(f"*.{ext}"):
        if google:
            key = (int(path.parent.parent.name), int(path.stem), int(path.parent.name))
        else:
            col, row = path.stem.split("_")
            key = (int(path.parent.name), int(col), int(row))
        tiles[key] = imagecodecs.imread(path.read_bytes())[..., :3]
    return tiles


def all_tiles(grid: DeepZoomGrid) -> set[tuple[int, int, int]]:
    return {(k, c, r) for k, (cols, rows) in enumerate(grid.level_tiles) for c in range(cols) for r in range(rows)}


@pytest.fixture(scope="module")
def vips_tree(sample_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pyvips = pytest.importorskip("pyvips")
    out = tmp_path_factory.mktemp("vips") / "vips"
    pyvips.Image.new_from_file(str(sample_slide)).dzsave(str(out), tile_size=254, overlap=1, suffix=".jpg[Q=90]")
    return Path(f"{out}_files")


@pytest.fixture(scope="module")
def ours(sample_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ours") / "slide"
    metrics = write_dzi(sample_slide, out, tile_size=254, overlap=1, quality=90)
    return out, metrics


def test_same_tiles_and_pixels_as_vips_dzsave(ours: tuple[Path, dict], vips_tree: Path) -> None:
    out, metrics = ours
    mine, theirs = read_tiles(Path(f"{out}_files"), "jpg"), read_tiles(vips_tree, "jpg")
    grid = DeepZoomGrid(3000, 2000, 254, 1)
    assert set(mine) == set(theirs) == all_tiles(grid)
    assert metrics["tiles"] == grid.tile_count and metrics["levels"] == grid.level_count
    for key, tile in theirs.items():
        assert mine[key].shape == tile.shape, key
        if min(tile.shape[:2]) >= 8:  # 1-4 px tiles are all JPEG block edge
            assert psnr(mine[key], tile) >= 35, key


@pytest.fixture(scope="module")
def averaged_slide(sample_slide: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's level 0 with stored levels that are its 2x area averages.

    (The generated sample synthesises each stored level afresh, so openslide, which reads
    stored levels, would show different pixels than any pyramid built from level 0.)
    """
    from ziggurat.kernels import reduce2

    with tifffile.TiffFile(sample_slide) as tif:
        levels = [tif.pages[0].asarray()]
    while max(levels[-1].shape[:2]) > 256:
        levels.append(reduce2(levels[-1], (0, 1)))
    path = tmp_path_factory.mktemp("averaged") / "averaged.tif"
    with tifffile.TiffWriter(path) as tw:
        for i, level in enumerate(levels):
            tw.write(level, tile=(256, 256), compression="jpeg", compressionargs={"level": 99},
                     photometric="rgb", subfiletype=1 if i else 0)  # fmt: skip
    return path


def test_same_tiles_and_pixels_as_openslide_deepzoom(averaged_slide: Path, tmp_path: Path) -> None:
    openslide = pytest.importorskip("openslide")
    from openslide.deepzoom import DeepZoomGenerator

    write_dzi(averaged_slide, tmp_path / "o")
    mine = read_tiles(tmp_path / "o_files", "jpg")
    dz = DeepZoomGenerator(openslide.OpenSlide(str(averaged_slide)), 254, 1)
    assert set(mine) == {
        (k, c, r)
        for k in range(dz.level_count)
        for c in range(dz.level_tiles[k][0])
        for r in range(dz.level_tiles[k][1])
    }
    grid = DeepZoomGrid(3000, 2000, 254, 1)
    for k, c, r in mine:
        theirs = np.asarray(dz.get_tile(k, (c, r)))
        _, _, w, h = grid.tile_bounds(k, c, r)
        assert mine[k, c, r].shape[:2] == (h, w)
        # openslide scales with PIL's aspect-preserving thumbnail: its tiles may be 1 px smaller
        assert abs(theirs.shape[0] - h) <= 1 and abs(theirs.shape[1] - w) <= 1
        # and with Lanczos from the nearest stored level, which on the tiny tiles of levels
        # 8x or more below a stored level differs from an area average; compare real tiles
        if min(h, w) >= 64 and theirs.shape[:2] == (h, w):
            assert psnr(mine[k, c, r], theirs) >= 35, (k, c, r)


def test_descriptor(ours: tuple[Path, dict]) -> None:
    out, _ = ours
    import xml.etree.ElementTree as ET

    root = ET.parse(f"{out}.dzi").getroot()
    ns = "{http://schemas.microsoft.com/deepzoom/2008}"
    assert root.tag == f"{ns}Image"
    assert (root.get("TileSize"), root.get("Overlap"), root.get("Format")) == (
        "254",
        "1",
        "jpg",
    )
    size = root.find(f"{ns}Size")
    assert (size.get("Width"), size.get("Height")) == ("3000", "2000")


def test_pass_through_copies_the_files_jpeg_tiles(sample_slide: Path, tmp_path: Path) -> None:
    metrics = write_dzi(sample_slide, tmp_path / "p", tile_size=256, overlap=0)
    grid = DeepZoomGrid(3000, 2000, 256, 0)
    finest = grid.level_count - 1
    with tifffile.TiffFile(sample_slide) as tif:
        page = tif.pages[0]
        fh = tif.filehandle
        fh.seek(page.dataoffsets[1 * 12 + 2])  # row 1, col 2 (12 tiles across)
        stored = fh.read(page.databytecounts[1 * 12 + 2])
        level0 = page.asarray()
    copied = (tmp_path / "p_files" / str(finest) / "2_1.jpg").read_bytes()
    assert copied == stored
    # full tiles of every level the file stores (3000x2000, 1500x1000, 750x500, ...) are copied
    stored = {(3000, 2000), (1500, 1000), (750, 500), (375, 250), (188, 125)}
    full = sum(
        1 for k in range(grid.level_count) if grid.level_dimensions[k] in stored
        for c in range(grid.level_tiles[k][0]) for r in range(grid.level_tiles[k][1])
        if grid.tile_bounds(k, c, r)[2:] == (256, 256)
    )  # fmt: skip
    assert metrics["copied_tiles"] == full == 11 * 7 + 5 * 3 + 2
    # the cut edge tiles are decoded from the file and re-encoded
    tiles = read_tiles(tmp_path / "p_files", "jpg")
    edge = tiles[finest, 11, 7]
    assert edge.shape == (2000 - 7 * 256, 3000 - 11 * 256, 3)
    assert psnr(edge, level0[7 * 256 :, 11 * 256 :]) >= 35
    assert set(tiles) == all_tiles(grid)


def test_pass_through_levels_match_vips(sample_slide: Path, tmp_path: Path) -> None:
    pyvips = pytest.importorskip("pyvips")
    write_dzi(sample_slide, tmp_path / "p", tile_size=256, overlap=0)
    pyvips.Image.new_from_file(str(sample_slide)).dzsave(
        str(tmp_path / "v"), tile_size=256, overlap=0, suffix=".jpg[Q=90]"
    )
    mine, theirs = (
        read_tiles(tmp_path / "p_files", "jpg"),
        read_tiles(tmp_path / "v_files", "jpg"),
    )
    assert set(mine) == set(theirs)
    for key, tile in theirs.items():
        assert mine[key].shape == tile.shape
        if min(tile.shape[:2]) >= 8:
            assert psnr(mine[key], tile) >= 35, key


def test_google_layout_matches_vips(sample_slide: Path, tmp_path: Path) -> None:
    pyvips = pytest.importorskip("pyvips")
    metrics = write_dzi(sample_slide, tmp_path / "g", layout="google")
    pyvips.Image.new_from_file(str(sample_slide)).dzsave(str(tmp_path / "v"), layout="google", suffix=".jpg[Q=90]")
    mine, theirs = (
        read_tiles(tmp_path / "g", "jpg", True),
        read_tiles(tmp_path / "v", "jpg", True),
    )
    # dzsave leaves out blank tiles in google layout; every tile it wrote we wrote too
    assert set(theirs) <= set(mine)
    assert len(mine) == metrics["tiles"] == 129  # z0 1, z1 2x1, z2 3x2, z3 6x4, z4 12x8
    for key, tile in theirs.items():
        assert mine[key].shape == tile.shape == (256, 256, 3)
        assert psnr(mine[key], tile) >= 35, key
    # edge tiles are padded with the background
    assert (mine[4, 11, 7][2000 - 7 * 256 :, :] == 255).all()


def test_refuses_to_overwrite_and_overwrites_when_asked(sample_slide: Path, tmp_path: Path) -> None:
    write_dzi(sample_slide, tmp_path / "s", tile_size=512, overlap=0, format="png")
    before = (tmp_path / "s.dzi").read_text()
    with pytest.raises(OutputExistsError, match="exists"):
        write_dzi(sample_slide, tmp_path / "s")
    write_dzi(sample_slide, tmp_path / "s.dzi", overwrite=True)
    after = (tmp_path / "s.dzi").read_text()
    assert 'TileSize="512"' in before and 'TileSize="254"' in after
    assert not list((tmp_path / "s_files").rglob("*.png"))  # the old tree is gone
    assert len(list((tmp_path / "s_files").rglob("*.jpg"))) == 137
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.dzi", "s_files"]


def _corrupt_copy(src: Path, dst: Path, index: int) -> None:
    """Copy a slide and overwrite the start of one level-0 tile with zeros."""
    shutil.copy(src, dst)
    with tifffile.TiffFile(dst) as tif:
        offset = tif.pages[0].dataoffsets[index]
    with open(dst, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\0" * 64)


def test_failed_run_leaves_nothing_behind(sample_slide: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    _corrupt_copy(sample_slide, bad, 5 * 12 + 3)  # row 5, col 3
    out = tmp_path / "out"
    with pytest.raises(CorruptImageError, match="row 5 col 3"):
        write_dzi(bad, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tif"]
    # an existing pyramid survives a failed --overwrite run untouched
    write_dzi(sample_slide, out)
    with pytest.raises(CorruptImageError):
        write_dzi(bad, out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.tif",
        "out.dzi",
        "out_files",
    ]
    assert len(list((tmp_path / "out_files").rglob("*.jpg"))) == 137


def test_interrupted_run_leaves_no_descriptor(sample_slide: Path, tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def progress(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        write_dzi(sample_slide, tmp_path / "out", progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_skip_bad_tiles_fills_and_lists_them(sample_slide: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    _corrupt_copy(sample_slide, bad, 5 * 12 + 3)
    metrics = write_dzi(bad, tmp_path / "out", skip_bad_tiles=True, background="00ff00")
    assert [(b["level"], b["row"], b["col"]) for b in metrics["bad_tiles"]] == [(0, 5, 3)]
    finest = (tmp_path / "out_files" / "12").glob("*")
    tiles = {p.name: imagecodecs.imread(p.read_bytes()) for p in finest}
    # level-0 pixels 768..1023 x 1280..1535 lie in DZ tiles cols 3-4, rows 5-6 (254 px tiles)
    green = tiles["3_5.jpg"][1280 - 5 * 254 + 1 + 10 : 1536 - 5 * 254 - 10, 768 - 3 * 254 + 1 + 10 :]
    assert np.abs(green.astype(int) - [0, 255, 0]).max() < 40


def test_bad_options_raise_typed_errors(sample_slide: Path, tmp_path: Path) -> None:
    with pytest.raises(EncodingError):
        write_dzi(sample_slide, tmp_path / "a", format="gif")
    with pytest.raises(EncodingError):
        write_dzi(sample_slide, tmp_path / "a", quality=0)
    with pytest.raises(EncodingError):
        write_dzi(sample_slide, tmp_path / "a", background="white")
    with pytest.raises(EncodingError):
        write_dzi(sample_slide, tmp_path / "a", layout="zoomify")
    assert list(tmp_path.iterdir()) == []


def test_from_array_png_pixels_exact(tmp_path: Path) -> None:
    """Lossless tiles of an in-memory image: every level is the 2x2 mean of the one below."""
    import ziggurat

    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (301, 517, 3), dtype=np.uint8)
    write_dzi(ziggurat.from_array(base), tmp_path / "a", format="png", tile_size=64, overlap=2)
    tiles = read_tiles(tmp_path / "a_files", "png")
    grid = DeepZoomGrid(517, 301, 64, 2)
    finest = grid.level_count - 1
    x, y, w, h = grid.tile_bounds(finest, 3, 2)
    assert (tiles[finest, 3, 2] == base[y : y + h, x : x + w]).all()
    # level finest-1 by hand: sum of 2x2 blocks (odd edge repeated), rounded half up
    padded = np.pad(base, ((0, 1), (0, 1), (0, 0)), mode="edge").astype(int)
    half = (padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2] + 2) // 4
    x, y, w, h = grid.tile_bounds(finest - 1, 4, 2)
    assert (tiles[finest - 1, 4, 2] == half[y : y + h, x : x + w]).all()


def test_cli(sample_slide: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, metrics = tmp_path / "c", tmp_path / "m.json"
    assert main(["dzi", str(sample_slide), str(out), "--metrics", str(metrics)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {out}: 137 tiles in 13 levels") and "tiles/s" in line
    data = json.loads(metrics.read_text())
    assert data["tiles"] == 137 and data["bytes_written"] > 0 and data["peak_rss_mb"] > 0
    assert main(["dzi", str(sample_slide), str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["dzi", str(sample_slide), str(out), "--overwrite", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["dzi", str(tmp_path / "missing.tif"), str(tmp_path / "x")]) == 2
    assert "missing.tif" in capsys.readouterr().err


def test_cli_lists_skipped_tiles(sample_slide: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.tif"
    _corrupt_copy(sample_slide, bad, 2 * 12 + 7)
    assert main(["dzi", str(bad), str(tmp_path / "o"), "--quiet"]) == 2
    assert "row 2 col 7" in capsys.readouterr().err
    assert main(["dzi", str(bad), str(tmp_path / "o"), "--quiet", "--skip-bad-tiles"]) == 0
    assert "skipped unreadable tile: level 0 row 2 col 7" in capsys.readouterr().err


@pytest.mark.parametrize("shape", [(7, 5, 3), (8, 9, 1), (256, 5001, 3), (3, 4097, 3), (1, 1, 3)])
def test_halve_is_the_rounded_2x2_mean(shape: tuple[int, int, int]) -> None:
    from ziggurat.kernels import reduce2

    block = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    padded = np.pad(block, ((0, shape[0] % 2), (0, shape[1] % 2), (0, 0)), mode="edge").astype(int)
    expected = (padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2] + 2) // 4
    assert (reduce2(block, (0, 1)) == expected).all()
    wide = block.astype(np.uint16) * 257  # 16-bit goes through NumPy
    p16 = padded * 257
    expected16 = (p16[0::2, 0::2] + p16[1::2, 0::2] + p16[0::2, 1::2] + p16[1::2, 1::2] + 2) // 4
    assert (reduce2(wide, (0, 1)) == expected16).all()


def test_pass_through_does_not_copy_a_damaged_tile(sample_slide: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    _corrupt_copy(sample_slide, bad, 3 * 12 + 4)
    with pytest.raises(CorruptImageError, match="row 3 col 4"):
        write_dzi(bad, tmp_path / "p", tile_size=256, overlap=0)
    metrics = write_dzi(bad, tmp_path / "p", tile_size=256, overlap=0, skip_bad_tiles=True)
    assert [(b["level"], b["row"], b["col"]) for b in metrics["bad_tiles"]] == [(0, 3, 4)]
    tile = imagecodecs.imread((tmp_path / "p_files" / "12" / "4_3.jpg").read_bytes())
    assert (tile >= 250).all()  # the white background


@pytest.fixture(scope="module")
def larger_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A slide that takes the CLI a second or two, long enough to interrupt."""
    from ziggurat.testing.sample import write_slide

    path = tmp_path_factory.mktemp("larger") / "larger.tif"
    write_slide(path, 8000, 6000)
    return path


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGKILL"])
def test_killed_cli_leaves_no_descriptor(larger_slide: Path, tmp_path: Path, signal_name: str) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ziggurat.cli",
            "dzi",
            str(larger_slide),
            str(out),
            "--quiet",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(tmp_path.glob(".out_files.partial-*/*/*.jpg")):  # tiles are being written
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(getattr(signal, signal_name))
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert not (tmp_path / "out.dzi").exists()
    if signal_name == "SIGINT":  # cleaned up: nothing at all is left
        assert proc.returncode == 130 and "interrupted" in err
        assert list(tmp_path.iterdir()) == []
    else:  # killed outright: only hidden partial files (and the dead writer's lock), never OUT.dzi or OUT_files
        hidden = [p.name for p in tmp_path.iterdir()]
        assert all(n.startswith(".out") and (".partial-" in n or n.endswith(".lock")) for n in hidden), hidden
