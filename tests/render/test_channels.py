"""Channels look right by default: names and colours from the file, and fluorescence windows from data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

import ziggurat
from ziggurat import TileService
from ziggurat.render.style import THUMBNAIL_SIDE, Style
from ziggurat.render.styled import styled

QPTIFF = "qptiff/small_vectra.qptiff"


def _thumbnail(image: ziggurat.Image) -> np.ndarray:
    png = TileService().thumbnail(image, 512, encoding="png")
    return np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB"))


def test_multiplex_qptiff_shows_its_tissue(realdata: Path) -> None:
    with ziggurat.open(realdata / QPTIFF) as image:
        assert image.channel_names == ["DAPI", "FITC", "Cy3"]
        assert image.channel_colors == [(0, 0, 255), (0, 255, 0), (255, 255, 0)]  # the page XML's <Color>
        assert image.metadata.fluorescence
        raw = image.get_thumbnail(THUMBNAIL_SIDE)
        shown = _thumbnail(image)
        # the raw 8-bit signal sits near black (mean ~8 of 255); the default rendering spreads it
        assert raw.mean() < 12
        assert shown.mean() > 50 and shown.std() > 50
        # each channel's window is its own data's 0.5 / 99.5 percentiles of a low-resolution view
        renderer = Style().resolve(image)
        for window in renderer.windows:
            low, high = np.percentile(raw[:, :, window.index], (0.5, 99.5))
            assert (window.low, window.high) == (low, high)
        assert len({(w.low, w.high) for w in renderer.windows}) > 1


def test_ome_channel_pages_are_fluorescence(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    offsets = np.array([100, 3000])[:, None, None]
    data = (rng.gamma(2.0, 40.0, (2, 300, 400)) + offsets).astype(np.uint16)
    path = tmp_path / "two.ome.tif"
    meta = {"axes": "CYX", "Channel": {"Name": ["DAPI", "CD8"], "Color": [-16776961, 16711935]}}
    tifffile.imwrite(path, data, ome=True, metadata=meta)
    with ziggurat.open(path) as image:
        assert image.channel_names == ["DAPI", "CD8"]
        assert image.channel_colors == [(255, 0, 0), (0, 255, 0)]  # OME's signed RGBA integers
        assert image.metadata.fluorescence
        windows = Style().resolve(image).windows
        # very different signal levels get their own windows (a shared one would hide channel 0)
        assert windows[0].high < 1000 < windows[1].low
        shown = _thumbnail(image)
        assert shown[..., 0].mean() > 60 and shown[..., 1].mean() > 60


def test_brightfield_rgb_is_untouched(sample_slide: Path) -> None:
    with ziggurat.open(sample_slide) as image:
        assert not image.metadata.fluorescence
        assert [(w.low, w.high) for w in Style().resolve(image).windows] == [(0.0, 255.0)] * 3


def test_brightfield_rgb_without_a_style_is_byte_identical(sample_slide: Path) -> None:
    with ziggurat.open(sample_slide) as image, tifffile.TiffFile(sample_slide) as tif:
        assert styled(image) is image
        top = int(np.ceil(np.log2(max(image.dimensions))))  # DeepZoom's full-resolution level
        png = TileService().tile(image, top, 1, 2, encoding="png", style=None)
        expected = tif.pages[0].asarray()[512:768, 256:512]  # tile (1, 2) of 256 px, no overlap
        np.testing.assert_array_equal(np.asarray(PILImage.open(io.BytesIO(png))), expected)
        # asked for, "auto" does stretch the same slide: the percentiles of the thumbnail it measured
        windows = Style.parse("fluorescence").resolve(image).windows
        raw = image.get_thumbnail(THUMBNAIL_SIDE)
        assert [(w.low, w.high) for w in windows] == [tuple(np.percentile(raw[:, :, c], (0.5, 99.5))) for c in range(3)]


@pytest.mark.parametrize("name", ["tiff/pathml_smalltif.tif"])
def test_16_bit_grey_gets_an_auto_window(realdata: Path, name: str) -> None:
    with ziggurat.open(realdata / name) as image:
        assert image.dtype == np.uint16
        (window,) = Style().resolve(image).windows
        raw = image.get_thumbnail(THUMBNAIL_SIDE)
        assert (window.low, window.high) == tuple(np.percentile(raw[:, :, 0], (0.5, 99.5)))
        assert _thumbnail(image).std() > 20
