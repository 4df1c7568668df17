"""ziggurat.openslide against openslide-python, side by side: each scenario runs the same code on both
modules and the outcomes — values, pixels, exception types and messages' gist — must agree."""

from __future__ import annotations

import ctypes
import os
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image

from ziggurat import openslide as zs

openslide = pytest.importorskip("openslide")
MODULES = {"openslide": openslide, "ziggurat": zs}


def outcome(call: Callable[[], Any]) -> Any:
    """A call's value, or its exception as ("raises", class name, whether it is a ctypes.ArgumentError);
    ours are subclasses of ctypes.ArgumentError that are also ValueError / TypeError."""
    try:
        return call()
    except ctypes.ArgumentError as exc:
        return ("raises", "ArgumentError", str(exc).split(":")[:2])
    except Exception as exc:
        return ("raises", type(exc).__name__, None)


def both(scenario: Callable[[types.ModuleType], Any]) -> tuple[Any, Any]:
    return scenario(openslide), scenario(zs)


def same(scenario: Callable[[types.ModuleType], Any]) -> Any:
    theirs, ours = both(scenario)
    assert ours == theirs
    return ours


@pytest.fixture(params=["sample", "svs", "svs-j2k"])
def slide_path(request: pytest.FixtureRequest, sample_slide: Path) -> Path:
    if request.param == "sample":
        return sample_slide
    name = {"svs": "CMU-1-Small-Region.svs", "svs-j2k": "tcga-cr-7395-01a-01-ts1.svs"}[request.param]
    return request.getfixturevalue("realdata") / "svs" / name


@pytest.fixture(scope="module")
def corrupt_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A slide whose sixth level-0 tile is zeroed: opens, then fails to decode there."""
    path = tmp_path_factory.mktemp("corrupt") / "corrupt.tif"
    pixels = np.random.default_rng(3).integers(0, 256, (512, 2048, 3), dtype=np.uint8)
    tifffile.imwrite(path, pixels, tile=(256, 256), photometric="rgb", compression="jpeg")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[5], tif.pages[0].databytecounts[5]
    data = bytearray(path.read_bytes())
    data[offset : offset + count] = bytes(count)
    path.write_bytes(data)
    return path


def test_names_and_versions() -> None:
    public = {n for n in dir(openslide) if not n.startswith("_") and n not in ("lowlevel", "deepzoom")}
    public -= {"annotations", "ABCMeta", "abstractmethod", "BytesIO", "ImageCms", "Image", "Iterator",
               "Literal", "Mapping", "TracebackType", "TypeVar"}  # fmt: skip
    assert public <= set(dir(zs)), public - set(dir(zs))
    for name in public:
        if name.startswith("PROPERTY_NAME_"):
            assert getattr(zs, name) == getattr(openslide, name)
    assert zs.__version__.startswith("1.4") and zs.__library_version__.startswith("4.")
    assert issubclass(zs.OpenSlideUnsupportedFormatError, zs.OpenSlideError)
    assert issubclass(zs.OpenSlideVersionError, zs.OpenSlideError)
    assert zs.OpenSlideVersionError("4.0.0").minimum_version == "4.0.0"
    assert issubclass(zs.OpenSlide, zs.AbstractSlide) and issubclass(zs.ImageSlide, zs.AbstractSlide)


def test_geometry_and_metadata(slide_path: Path) -> None:
    def scenario(m: types.ModuleType) -> Any:
        with m.OpenSlide(slide_path) as s:
            props = s.properties
            assert isinstance(props, Mapping) and isinstance(s.associated_images, Mapping)
            keys = [k for k in props if k != m.PROPERTY_NAME_QUICKHASH1]
            return {
                "dims": (s.dimensions, s.level_count, s.level_dimensions),
                "downsamples": [round(d, 6) for d in s.level_downsamples],
                "props": {k: props[k] for k in keys},
                "missing": outcome(lambda: props["no.such.key"]),
                "assignment": outcome(lambda: props.__setitem__("a", "b")),
                "best": [s.get_best_level_for_downsample(d) for d in (-1, 0.5, 1, 1.5, 1.999, 2, 3, 4.01, 64, 1e9)],
                "associated": {n: (im.mode, im.size) for n, im in s.associated_images.items()},
                "profile": None if s.color_profile is None else s.color_profile.profile.profile_description,
                "repr": repr(s).replace(type(s).__module__, ""),
            }

    theirs, ours = both(scenario)
    # ziggurat may know more vendor keys than openslide (never fewer, never different)
    assert {k: v for k, v in ours["props"].items() if k in theirs["props"]} == theirs["props"]
    assert set(theirs["props"]) <= set(ours["props"])
    del theirs["props"], ours["props"]
    assert ours == theirs


def test_read_region_pixels(slide_path: Path) -> None:
    ref, ours = openslide.OpenSlide(slide_path), zs.OpenSlide(slide_path)
    top = ref.level_count - 1
    w, h = ref.dimensions
    cases = [((0, 0), 0, (300, 200)), ((-20, 1500), 0, (400, 400)), ((1024, 512), top, (128, 96)),
             ((w - 100, h - 50), 0, (256, 256)), ((-500, -500), 0, (100, 100)), ((w + 10, 0), 0, (5, 5)),
             ((0, 0), top, tuple(min(n, 1024) for n in ref.level_dimensions[top]))]  # fmt: skip
    for location, level, size in cases:
        a, b = ours.read_region(location, level, size), ref.read_region(location, level, size)
        assert a.mode == b.mode == "RGBA" and a.size == b.size
        assert a.info.get("icc_profile") == b.info.get("icc_profile")
        pa, pb = np.asarray(a, int), np.asarray(b, int)
        np.testing.assert_array_equal(pa[..., 3], pb[..., 3])  # the same transparent padding
        # the same decoded pixels, within the rounding of two JPEG / JPEG 2000 decoders
        assert np.abs(pa - pb).max() <= 6 and np.abs(pa - pb).mean() < 0.5, (location, level, size)
        np.testing.assert_array_equal(ours.read_region(location, level, size, as_array=True), np.asarray(a))
    thumb, ref_thumb = ours.get_thumbnail((200, 150)), ref.get_thumbnail((200, 150))
    assert thumb.size == ref_thumb.size and thumb.mode == ref_thumb.mode == "RGB"
    assert np.abs(np.asarray(thumb, int) - np.asarray(ref_thumb, int)).mean() < 1


def test_read_region_arguments(sample_slide: Path) -> None:
    def scenario(m: types.ModuleType) -> Any:
        s = m.OpenSlide(sample_slide)
        region = s.read_region
        return [
            np.asarray(region((0, 0), -1, (3, 2))).tolist(),  # no such level: transparent, no error
            np.asarray(region((0, 0), 99, (3, 2))).tolist(),
            region((0, 0), 0, (0, 10)).size,
            outcome(lambda: region((0, 0), 0, (-1, 10))),
            outcome(lambda: region((0, 0), 1.0, (10, 10))),
            outcome(lambda: region((0.5, 0), 0, (1, 1))),
            np.asarray(region((np.int64(3), 4), np.int32(1), (2, 2))).shape,
        ]

    same(scenario)


def test_paths_and_detection(sample_slide: Path, tmp_path: Path) -> None:
    text = tmp_path / "x.txt"
    text.write_text("hello")
    png = tmp_path / "small.png"
    Image.fromarray(np.arange(300, dtype=np.uint8).reshape(15, 20)).save(png)

    def scenario(m: types.ModuleType) -> Any:
        paths = [str(sample_slide), os.fsencode(sample_slide), sample_slide]
        return [
            [repr(m.OpenSlide(p)).split("(", 1)[1] for p in paths],
            [m.OpenSlide.detect_format(p) for p in (sample_slide, text, tmp_path / "missing.svs", png)],
            outcome(lambda: m.OpenSlide(tmp_path / "missing.svs")),
            outcome(lambda: m.OpenSlide(text)),
            outcome(lambda: m.OpenSlide(tmp_path)),
            outcome(lambda: m.OpenSlide(5)),
            outcome(lambda: m.OpenSlide.detect_format(5)),
            type(m.open_slide(sample_slide)).__name__,
            type(m.open_slide(png)).__name__,
            m.ImageSlide.detect_format(png),
            m.ImageSlide.detect_format(text),
            outcome(lambda: m.open_slide(text)),
        ]

    same(scenario)


def test_closed_handle(sample_slide: Path) -> None:
    def scenario(m: types.ModuleType) -> Any:
        s = m.OpenSlide(sample_slide)
        props = s.properties
        s.close()
        calls = [lambda: s.dimensions, lambda: s.level_count, lambda: s.level_downsamples,
                 lambda: s.read_region((0, 0), 0, (1, 1)), lambda: type(s.properties).__name__,
                 lambda: dict(props), lambda: len(s.associated_images), lambda: s.get_best_level_for_downsample(2),
                 s.close]  # fmt: skip
        return [outcome(c) for c in calls] + [repr(s).split("(")[0]]

    result = same(scenario)
    assert result[0] == ("raises", "ArgumentError", ["argument 1", " ValueError"])
    with zs.OpenSlide(sample_slide) as s:  # ours is also a ValueError, like ImageSlide's
        pass
    with pytest.raises(ValueError, match="closed"):
        s.read_region((0, 0), 0, (1, 1))


def test_errors_latch(corrupt_slide: Path) -> None:
    def scenario(m: types.ModuleType) -> Any:
        s = m.OpenSlide(corrupt_slide)
        first = s.read_region((0, 0), 0, (10, 10)).size
        calls = [lambda: s.read_region((5 * 256, 0), 0, (10, 10)), lambda: s.read_region((0, 0), 0, (10, 10)),
                 lambda: s.dimensions, lambda: s.level_count, lambda: dict(s.properties),
                 lambda: s.get_best_level_for_downsample(2), lambda: dict(s.associated_images),
                 lambda: s.level_downsamples, s.close]  # fmt: skip
        return [first, *[outcome(c) for c in calls]]

    result = same(scenario)
    assert result[1] == ("raises", "OpenSlideError", None) and result[-1] is None
    with pytest.raises(zs.OpenSlideError, match=r"corrupt\.tif"):  # ours names the file and tile
        zs.OpenSlide(corrupt_slide).read_region((5 * 256, 0), 0, (10, 10))


def test_cache_objects(sample_slide: Path) -> None:
    def scenario(m: types.ModuleType) -> Any:
        cache = m.OpenSlideCache(4 << 20)
        s = m.OpenSlide(sample_slide)
        before = np.asarray(s.read_region((100, 100), 0, (64, 64)))
        s.set_cache(cache)
        after = np.asarray(s.read_region((100, 100), 0, (64, 64)))
        return [repr(cache), outcome(lambda: s.set_cache(5)), outcome(lambda: m.OpenSlideCache(-1)),
                outcome(lambda: m.OpenSlideCache("a")), bool((before == after).all())]  # fmt: skip

    same(scenario)


def test_shared_cache_holds_tiles(sample_slide: Path) -> None:
    cache = zs.OpenSlideCache(64 << 20)
    a, b = zs.OpenSlide(sample_slide), zs.OpenSlide(sample_slide)
    a.set_cache(cache)
    b.set_cache(cache)
    a.read_region((0, 0), 0, (512, 512))
    assert len(cache.lru) == 4  # four stored 256 px tiles, decoded once...
    b.read_region((0, 0), 0, (512, 512))
    assert cache.lru.stats()["hits"] >= 4  # ...and found by the other handle


def test_image_slide(tmp_path: Path) -> None:
    png = tmp_path / "rgb.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(png)

    def scenario(m: types.ModuleType) -> Any:
        s = m.open_slide(png)
        pil = m.ImageSlide(Image.open(png))
        region = s.read_region
        result = [
            repr(pil).split("(")[0], s.level_count, s.dimensions, s.level_dimensions, s.level_downsamples,
            dict(s.properties), dict(s.associated_images), s.color_profile, s.get_best_level_for_downsample(8),
            np.asarray(region((-5, -5), 0, (20, 20))).tolist(), np.asarray(region((35, 25), 0, (10, 10))).tolist(),
            np.asarray(region((100, 100), 0, (3, 3))).tolist(), outcome(lambda: region((0, 0), 1, (3, 3))),
            outcome(lambda: region((0, 0), 0, (-3, 3))), np.asarray(s.get_thumbnail((20, 20))).tolist(),
        ]  # fmt: skip
        s.close()
        s.close()
        return [*result, outcome(lambda: s.dimensions), outcome(lambda: region((0, 0), 0, (1, 1)))]

    same(scenario)


def test_formats_only_openslide_reads_fall_through(sample_slide: Path, tmp_path: Path) -> None:
    """A file the TIFF backend does not claim first (here a TIFF under a vendor's suffix, as MRXS or
    VMS would be) opens through ziggurat's openslide backend: the same answers, the same pixels."""
    path = tmp_path / "slide.vendor"
    path.write_bytes(sample_slide.read_bytes())

    def scenario(m: types.ModuleType) -> Any:
        s = m.OpenSlide(path)
        region = s.read_region((100, 50), 1, (300, 200))
        props = {k: v for k, v in s.properties.items() if k != m.PROPERTY_NAME_QUICKHASH1}
        return [s.level_dimensions, props, np.asarray(region).tolist(), m.OpenSlide.detect_format(path)]

    same(scenario)
    assert zs.OpenSlide(path).image.backend == "openslide"
