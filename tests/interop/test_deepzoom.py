"""ziggurat.openslide.deepzoom.DeepZoomGenerator against openslide.deepzoom's, side by side: the same
grid (every tile's coordinates and size, limit_bounds included), the same errors, the same pixels at
stored levels, and openslide's example DeepZoom server running unchanged on either module."""

from __future__ import annotations

import ctypes
import io
import re
import types
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ziggurat import openslide as zs
from ziggurat.openslide import deepzoom as zdz
from ziggurat.tiles.grid import DeepZoomGrid

openslide = pytest.importorskip("openslide")
from openslide import deepzoom as odz  # noqa: E402

MODULES = ((openslide, odz), (zs, zdz))
CONFIGS = [(254, 1, False), (256, 0, False), (240, 4, False), (254, 1, True)]


@pytest.fixture(params=["sample", "svs"])
def slide_path(request: pytest.FixtureRequest, sample_slide: Path) -> Path:
    if request.param == "sample":
        return sample_slide
    return request.getfixturevalue("realdata") / "svs" / "CMU-1-Small-Region.svs"


def geometry(dz: Any) -> dict[str, Any]:
    """Everything a DeepZoomGenerator says about its grid, every tile included."""
    tiles = [(z, (c, r)) for z in range(dz.level_count) for c in range(dz.level_tiles[z][0])
             for r in range(dz.level_tiles[z][1])]  # fmt: skip
    dzi = ET.fromstring(dz.get_dzi("jpeg"))
    return {
        "levels": (dz.level_count, dz.level_tiles, dz.level_dimensions, dz.tile_count),
        "coordinates": [dz.get_tile_coordinates(z, t) for z, t in tiles],
        "dimensions": [dz.get_tile_dimensions(z, t) for z, t in tiles],
        "dzi": (dzi.tag, sorted(dzi.attrib.items()), [(e.tag, sorted(e.attrib.items())) for e in dzi]),
    }


class Bounded:
    """A slide object with ``openslide.bounds-*`` properties added (DeepZoomGenerator takes any slide)."""

    def __init__(self, slide: Any, bounds: tuple[int, int, int, int]) -> None:
        self._slide = slide
        names = ("openslide.bounds-x", "openslide.bounds-y", "openslide.bounds-width", "openslide.bounds-height")
        self.properties: Mapping[str, str] = {**slide.properties, **dict(zip(names, map(str, bounds)))}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._slide, name)


@pytest.mark.parametrize(("tile_size", "overlap", "limit_bounds"), CONFIGS)
def test_same_grid(slide_path: Path, tile_size: int, overlap: int, limit_bounds: bool) -> None:
    ours, theirs = (geometry(dz.DeepZoomGenerator(m.open_slide(slide_path), tile_size, overlap, limit_bounds))
                    for m, dz in MODULES)  # fmt: skip
    assert ours == theirs


def test_same_grid_within_bounds(sample_slide: Path) -> None:
    bounds = (301, 157, 2100, 1333)
    gens = [dz.DeepZoomGenerator(Bounded(m.OpenSlide(sample_slide), bounds), 254, 1, True) for m, dz in MODULES]
    ref, ours = gens
    assert geometry(ours) == geometry(ref)
    assert repr(ours).split("(")[0] == repr(ref).split("(")[0] == "DeepZoomGenerator"
    for level in (ref.level_count - 1, ref.level_count - 2, ref.level_count - 5):
        cols, rows = ref.level_tiles[level]
        for address in {(0, 0), (cols - 1, rows - 1), (cols // 2, rows // 2)}:
            a, b = np.asarray(ours.get_tile(level, address), int), np.asarray(ref.get_tile(level, address), int)
            assert a.shape == b.shape, (level, address)
            if level == ref.level_count - 1:
                assert np.abs(a - b).max() <= 2
            else:  # an odd bounds offset falls between pixels of coarser levels: openslide interpolates
                assert np.abs(a - b).mean() < 4, (level, address)


def area_means(slide: Any, downsample: int, left: int, top: int, width: int, height: int) -> np.ndarray:
    """The true pixels of a tile at a level the file lacks: means of the finer stored level's blocks,
    read by openslide (edge pixels repeated past the slide, as a halving that rounds up does)."""
    level = slide.get_best_level_for_downsample(downsample)
    f = round(downsample / slide.level_downsamples[level])
    w, h = slide.level_dimensions[level]
    x0, y0 = left * f, top * f
    l0 = (round(x0 * slide.level_downsamples[level]), round(y0 * slide.level_downsamples[level]))
    size = (min(width * f, w - x0), min(height * f, h - y0))
    region = np.asarray(slide.read_region(l0, level, size), float)[..., :3]
    region = np.pad(region, ((0, height * f - region.shape[0]), (0, width * f - region.shape[1]), (0, 0)), mode="edge")
    means: np.ndarray = region.reshape(height, f, width, f, 3).mean(axis=(1, 3))
    return means


def test_tiles_match(slide_path: Path) -> None:
    slide = openslide.OpenSlide(slide_path)
    ref = odz.DeepZoomGenerator(slide)
    ours = zdz.DeepZoomGenerator(zs.OpenSlide(slide_path))
    grid = DeepZoomGrid(*slide.dimensions, 254, 1)
    stored = {round(d) for d in slide.level_downsamples}
    for level in range(ref.level_count):
        cols, rows = ref.level_tiles[level]
        d = grid.downsample(level)
        for address in {(0, 0), (cols - 1, rows - 1), (cols // 2, rows // 2)}:
            x, y, w, h = grid.tile_bounds(level, *address)
            a = ours.get_tile(level, address)
            assert a.mode == "RGB" and a.size == (w, h)  # the grid's size, always
            if d > 16:  # openslide reads 32 x the tile's area or more for these: too slow to compare
                continue
            b = ref.get_tile(level, address)
            pa, pb = np.asarray(a, float), np.asarray(b, float)
            if d in stored:  # a stored level: the same decoded pixels
                assert a.size == b.size and np.abs(pa - pb).max() <= 2, (level, address)
            else:  # a level the file lacks: ziggurat's are the true area means, openslide's
                truth = area_means(slide, d, x, y, w, h)  # Lanczos thumbnail() a worse estimate of them
                error = np.abs(pa - truth).mean()
                assert error < 1.5, (level, address, error)
                if a.size == b.size:
                    assert error <= np.abs(pb - truth).mean() + 0.5, (level, address)


def test_any_slide_object(sample_slide: Path) -> None:
    """Given a real openslide.OpenSlide, ours follows openslide's recipe: the very same tiles."""
    ref = odz.DeepZoomGenerator(openslide.OpenSlide(sample_slide), 200, 2)
    ours = zdz.DeepZoomGenerator(openslide.OpenSlide(sample_slide), 200, 2)
    assert geometry(ours) == geometry(ref)
    for level in (ours.level_count - 1, ours.level_count - 3, 5):
        for address in ((0, 0), (ours.level_tiles[level][0] - 1, 0)):
            a, b = ours.get_tile(level, address), ref.get_tile(level, address)
            assert a.size == b.size and a.tobytes() == b.tobytes()


def test_errors_and_image_slides(sample_slide: Path, tmp_path: Path) -> None:
    png = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (300, 500, 3), dtype=np.uint8)).save(png)

    def scenario(m: types.ModuleType, dz: types.ModuleType) -> list[Any]:
        gen = dz.DeepZoomGenerator(m.OpenSlide(sample_slide))
        top = gen.level_count - 1
        picture = dz.DeepZoomGenerator(m.open_slide(png), 128, 2)
        out = []
        for call in (lambda: gen.get_tile(-1, (0, 0)), lambda: gen.get_tile(gen.level_count, (0, 0)),
                     lambda: gen.get_tile(top, (-1, 0)), lambda: gen.get_tile(top, (0, 99)),
                     lambda: gen.get_tile_coordinates(top, (99, 0)), lambda: gen.get_tile_dimensions(0, (1, 0)),
                     lambda: np.asarray(picture.get_tile(picture.level_count - 1, (1, 1))).tolist(),
                     lambda: geometry(picture)):  # fmt: skip
            try:
                out.append(call())
            except Exception as exc:
                out.append((type(exc).__name__, str(exc)))
        gen._osr.close()
        try:
            gen.get_tile(top, (0, 0))
        except Exception as exc:
            out.append(("closed", isinstance(exc, ctypes.ArgumentError), str(exc)))
        return out

    ours, theirs = (scenario(m, dz) for m, dz in MODULES[::-1])
    assert ours == theirs
    assert theirs[0] == ("ValueError", "Invalid level") and theirs[2] == ("ValueError", "Invalid address")


# -- openslide's examples/deepzoom/deepzoom_server.py, Flask taken out, otherwise as written ---------
def deepzoom_server(openslide: types.ModuleType, path: Path) -> Callable[[str], tuple[int, str, bytes]]:
    """The example server's routes and handlers for one slide, as a ``GET path -> (status, type, body)``."""
    DeepZoomGenerator = openslide.deepzoom.DeepZoomGenerator
    config = {"DEEPZOOM_FORMAT": "jpeg", "DEEPZOOM_TILE_SIZE": 254, "DEEPZOOM_OVERLAP": 1,
              "DEEPZOOM_LIMIT_BOUNDS": True, "DEEPZOOM_TILE_QUALITY": 75}  # fmt: skip
    slide = openslide.open_slide(path)
    opts = {"tile_size": config["DEEPZOOM_TILE_SIZE"], "overlap": config["DEEPZOOM_OVERLAP"],
            "limit_bounds": config["DEEPZOOM_LIMIT_BOUNDS"]}  # fmt: skip
    slides = {"slide": DeepZoomGenerator(slide, **opts)}
    associated_images = []
    for name, image in slide.associated_images.items():
        associated_images.append(name)
        slides[name] = DeepZoomGenerator(openslide.ImageSlide(image), **opts)
    try:
        mpp_x = slide.properties[openslide.PROPERTY_NAME_MPP_X]
        mpp_y = slide.properties[openslide.PROPERTY_NAME_MPP_Y]
        slide_mpp = (float(mpp_x) + float(mpp_y)) / 2
    except (KeyError, ValueError):
        slide_mpp = 0

    def dzi(slug: str) -> tuple[int, str, bytes]:
        format = config["DEEPZOOM_FORMAT"]
        try:
            return 200, "application/xml", slides[slug].get_dzi(format).encode()
        except KeyError:
            return 404, "text/plain", b"not found"  # Unknown slug

    def tile(slug: str, level: int, col: int, row: int, format: str) -> tuple[int, str, bytes]:
        format = format.lower()
        if format != "jpeg" and format != "png":
            return 404, "text/plain", b"not found"  # Not supported by Deep Zoom
        try:
            tile = slides[slug].get_tile(level, (col, row))
        except KeyError:
            return 404, "text/plain", b"not found"  # Unknown slug
        except ValueError:
            return 404, "text/plain", b"not found"  # Invalid level or coordinates
        buf = io.BytesIO()
        tile.save(buf, format, quality=config["DEEPZOOM_TILE_QUALITY"])
        return 200, f"image/{format}", buf.getvalue()

    def get(url: str) -> tuple[int, str, bytes]:
        if url == "/":
            return 200, "text/plain", repr((sorted(slides), associated_images, round(slide_mpp, 6))).encode()
        if m := re.fullmatch(r"/(\w+)\.dzi", url):
            return dzi(m[1])
        if m := re.fullmatch(r"/(\w+)_files/(\d+)/(\d+)_(\d+)\.(\w+)", url):
            return tile(m[1], int(m[2]), int(m[3]), int(m[4]), m[5])
        return 404, "text/plain", b"not found"

    return get


def served(get: Callable[[str], tuple[int, str, bytes]], urls: list[str]) -> Iterator[Any]:
    for url in urls:
        status, kind, body = get(url)
        if kind.startswith("image/"):
            tile = Image.open(io.BytesIO(body))
            yield url, status, kind, tile.size, np.asarray(tile.convert("RGB"), float).mean()
        else:
            yield url, status, kind, body


def test_example_deepzoom_server_runs_unchanged(realdata: Path) -> None:
    path = realdata / "svs" / "CMU-1-Small-Region.svs"
    urls = ["/", "/slide.dzi", "/label.dzi", "/nope.dzi", "/slide_files/12/4_5.jpeg", "/slide_files/12/4_5.png",
            "/slide_files/8/0_0.jpeg", "/slide_files/12/99_0.jpeg", "/slide_files/40/0_0.jpeg",
            "/slide_files/12/0_0.gif", "/macro_files/11/2_1.jpeg", "/thumbnail_files/9/1_1.png"]  # fmt: skip
    theirs = list(served(deepzoom_server(openslide, path), urls))
    ours = list(served(deepzoom_server(zs, path), urls))
    for a, b in zip(ours, theirs):
        if len(a) == 5:  # a tile: same status, type and size, nearly the same picture
            assert a[:4] == b[:4] and abs(a[4] - b[4]) < 2, (a, b)
        else:
            assert a == b
    assert [s for _, s, *_ in ours] == [200, 200, 200, 404, 200, 200, 200, 404, 404, 404, 200, 200]
