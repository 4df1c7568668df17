"""End to end in headless Chromium (Debian's, driven by selenium + chromedriver): the image list
and the OpenSeadragon viewer load, tiles arrive with 200s, zooming asks for deeper tiles, the
style controls re-request styled tiles, nothing is logged to the console; a screenshot is saved."""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from starlette.types import ASGIApp, Receive, Scope, Send

from ziggurat.server import create_app
from ziggurat.server.catalog import image_id
from ziggurat.server.thread import live_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
DZ_TILE = re.compile(r"_files/(\d+)/\d+_\d+\.jpeg")


class Recorder:
    """ASGI middleware remembering (path, query, status) of every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["path"], scope["query_string"].decode(), message["status"]))
            await send(message)

        await self.app(scope, receive, record if scope["type"] == "http" else send)

    def tiles(self) -> list[tuple[int, str, int]]:
        """(DeepZoom level, query, status) of every tile request so far."""
        return [(int(m.group(1)), q, s) for p, q, s in self.seen if (m := DZ_TILE.search(p))]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are required under CI (scripts/setup installs them)")
        pytest.skip("chromium / chromedriver not installed (scripts/setup installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(None, timeout, poll_frequency=0.1).until(lambda _: condition())


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def fully_loaded(driver: Any, query: str = "") -> bool:
    """Whether the viewer shows one image whose tile URLs contain ``query``, every tile drawn."""
    return driver.execute_script(
        "const v = window.zigguratViewer;"
        "if (!v || v.world.getItemCount() !== 1) return false;"
        "const item = v.world.getItemAt(0);"
        "return String(item.source.queryParams).includes(arguments[0]) && item.getFullyLoaded();",
        query,
    )


def drawn(driver: Any, path: Path) -> bool:
    """Save a screenshot to ``path``; whether the viewer's area shows an image (not one flat colour)."""
    png = driver.get_screenshot_as_png()
    pixels = np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB"))[100:-100, 100:-300]
    path.write_bytes(png)
    return float(pixels.std()) > 2


def test_viewer_in_headless_chromium(browser: Any, sample_slide: Path, tmp_path: Path) -> None:
    root = tmp_path / "slides"
    root.mkdir()
    shutil.copy(sample_slide, root / "slide.tif")
    recorder = Recorder(create_app([root], cache="memory://"))
    with live_server(recorder) as base:
        browser.get(base + "/")
        wait_for(lambda: browser.execute_script(
            "const img = document.querySelector('.card img');"
            "return !!img && img.complete && img.naturalWidth > 0;"))  # fmt: skip
        card = browser.find_element("css selector", ".card")
        assert "slides/slide.tif" in card.text and "3000 × 2000" in card.text  # noqa: RUF001 - the page's text
        card.click()
        wait_for(lambda: browser.current_url.endswith(f"/view/{image_id('slides/slide.tif')}"))
        wait_for(lambda: fully_loaded(browser))
        first = recorder.tiles()
        assert first and all(status == 200 and query == "" for _, query, status in first)  # unstyled
        shallow = max(level for level, _, _ in first)
        assert "µm" in browser.find_element("id", "scalebar-label").text

        browser.execute_script("const v = window.zigguratViewer; v.viewport.zoomBy(16); v.viewport.applyConstraints();")
        wait_for(lambda: max(level for level, _, _ in recorder.tiles()) > shallow)
        wait_for(lambda: fully_loaded(browser))
        ARTIFACTS.mkdir(exist_ok=True)
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer.png"))
        assert all(status == 200 for _, _, status in recorder.tiles())

        browser.execute_script("const s = document.getElementById('colormap'); s.value = 'viridis';"
                               "s.dispatchEvent(new Event('change', {bubbles: true}));")  # fmt: skip
        wait_for(lambda: fully_loaded(browser, "style="))
        styled = [status for _, query, status in recorder.tiles() if "style=" in query]
        assert styled and all(status == 200 for status in styled)
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-viridis.png"))
        assert console_errors(browser) == []
    assert (ARTIFACTS / "viewer.png").stat().st_size > 10_000


def _select(driver: Any, id: str, value: object) -> None:
    driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event('change', {bubbles: true}));",
        id,
        str(value),
    )


def _text(driver: Any, id: str) -> str:
    return str(driver.execute_script("return document.getElementById(arguments[0]).textContent;", id))


def _edges(driver: Any) -> dict[str, str]:
    return {edge: _text(driver, f"edge-{edge}") for edge in ("top", "bottom", "left", "right")}


def _brightness(driver: Any) -> float:
    png = driver.get_screenshot_as_png()
    return float(np.asarray(PILImage.open(io.BytesIO(png)).convert("L"))[100:-100, 100:-300].mean())


def test_volume_planes_in_headless_chromium(browser: Any, tmp_path: Path) -> None:
    """Each orientation with its labels, the neurological switch, the slice position, a 4-D time change."""
    import nibabel as nib

    from ziggurat.testing.phantom import mri_volume

    root = tmp_path / "mri"
    root.mkdir()
    head = mri_volume((40, 96, 80))  # z y x
    data = np.stack([head * 0.1, head], axis=-1).transpose(2, 1, 0, 3)  # x y z t: t = 1 ten times brighter
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.diag([1.0, 1.0, 2.0, 1.0])), root / "head.nii.gz")
    recorder = Recorder(create_app([root], cache="memory://"))
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(recorder) as base:
        browser.get(base + "/")
        wait_for(lambda: "pixel 1 mm" in browser.find_element("css selector", ".card .facts").text)
        browser.get(f"{base}/view/{image_id('mri/head.nii.gz')}")
        wait_for(lambda: fully_loaded(browser, "slice=20"))
        assert _edges(browser) == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
        assert _text(browser, "position") == "21 / 40 · z = 40.0 mm"
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-volume-axial.png"))
        for axis, index, labels in (("y", 48, {"top": "S", "bottom": "I", "left": "R", "right": "L"}),
                                    ("x", 40, {"top": "S", "bottom": "I", "left": "A", "right": "P"})):  # fmt: skip
            _select(browser, "axis", axis)
            wait_for(lambda axis=axis, index=index: fully_loaded(browser, f"axis={axis}&slice={index}"))
            assert _edges(browser) == labels
            name = {"y": "coronal", "x": "sagittal"}[axis]
            wait_for(lambda name=name: drawn(browser, ARTIFACTS / f"viewer-volume-{name}.png"))
        # coronal: 2 mm slices under 1 mm columns are drawn twice as tall as stored
        _select(browser, "axis", "y")
        wait_for(lambda: fully_loaded(browser, "axis=y&slice=48"))
        assert "80 × 80 px" in _text(browser, "title")  # noqa: RUF001 - the page's text
        _select(browser, "view", "neurological")
        wait_for(lambda: fully_loaded(browser, "view=neurological"))
        assert _edges(browser)["right"] == "R"
        dim = _brightness(browser)
        _select(browser, "time", 1)
        wait_for(lambda: fully_loaded(browser, "t=1"))
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-volume-t1.png"))
        tiles = recorder.tiles()
        assert tiles and all(status == 200 for _, _, status in tiles)
        assert any("t=1" in q for _, q, _ in tiles)
        assert console_errors(browser) == []
    assert dim > 0  # the window is the style's: t = 1 is drawn with t = 0's window, so brighter
    assert _brightness_of(ARTIFACTS / "viewer-volume-t1.png") > dim


def _brightness_of(path: Path) -> float:
    return float(np.asarray(PILImage.open(path).convert("L"))[100:-100, 100:-300].mean())


def test_ct_opens_with_the_file_window_and_offers_presets(browser: Any, realdata: Path, tmp_path: Path) -> None:
    root = tmp_path / "ct"
    shutil.copytree(realdata / "dicom" / "series-ct-ge-tilt", root / "head")
    recorder = Recorder(create_app([root], cache="memory://"))
    with live_server(recorder) as base:
        browser.get(f"{base}/view/{image_id('ct/head')}")
        wait_for(lambda: fully_loaded(browser, "slice=14"))
        # WindowCenter 35 / WindowWidth 100 -> -15..85 HU
        assert browser.execute_script("return [preset.value, +min.value, +max.value];") == ["file", -15, 85]
        presets = browser.execute_script("return [...preset.options].map((o) => o.value);")
        assert {"file", "ct-soft-tissue", "ct-bone", "ct-lung", "ct-brain"} <= set(presets)
        ARTIFACTS.mkdir(exist_ok=True)
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-ct-file-window.png"))
        _select(browser, "preset", "ct-bone")
        wait_for(lambda: fully_loaded(browser, "%22min%22%3A-500"))
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-ct-bone.png"))
        assert all(status == 200 for _, _, status in recorder.tiles())
        assert console_errors(browser) == []


def _mean_rgb(path: Path) -> np.ndarray:
    pixels = np.asarray(PILImage.open(path).convert("RGB"))[150:-150, 300:-400].reshape(-1, 3).astype(float)
    return pixels[pixels.sum(axis=1) > 30].mean(axis=0)  # the drawn image, not the black background


def test_omezarr_channels_contrast_cursor_and_metadata(browser: Any, realdata: Path, tmp_path: Path) -> None:
    """A pyramid's OME-Zarr store: per-channel contrast from the automatic window, one channel in its
    colour, the cursor's pixel value; an SVS's metadata panel with its associated images."""
    from ziggurat import from_array
    from ziggurat.writers.omezarr.builder import build_pyramid

    root = tmp_path / "stores"
    root.mkdir()
    yy, xx = np.mgrid[0:300, 0:400]
    data = np.stack([(yy * 10).astype(np.uint16), (xx * 100).astype(np.uint16)])  # c y x
    image = from_array(data, axes="cyx", channel_names=["DAPI", "GFP"])
    image.metadata.channel_colors = [(0, 0, 255), (0, 255, 0)]
    build_pyramid(image, root / "cells.zarr")
    shutil.copy(realdata / "svs" / "CMU-1-Small-Region.svs", root / "he.svs")
    recorder = Recorder(create_app([root], cache="memory://"))
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(recorder) as base:
        browser.get(f"{base}/view/{image_id('stores/cells.zarr')}")
        wait_for(lambda: fully_loaded(browser, "style="))
        names = browser.execute_script(
            "return [...document.querySelectorAll('#channels b')].map((b) => b.textContent);"
        )
        assert names == ["DAPI", "GFP"]
        windows = browser.execute_script(
            "return [...document.querySelectorAll('#channels .channel')].map("
            "(r) => [+r.querySelector('.ch-min').value, +r.querySelector('.ch-max').value]);"
        )
        want = [np.percentile(data[c, ::4, ::4], (0.5, 99.5)) for c in range(2)]  # near the auto window
        for got, (lo, hi) in zip(windows, want):
            assert abs(got[0] - lo) < 0.05 * (hi - lo) + 20 and abs(got[1] - hi) < 0.05 * (hi - lo) + 20
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-omezarr-composite.png"))
        # only GFP, drawn green
        browser.execute_script("const b = document.querySelector('#channels input[value=\"0\"]'); b.checked = false;"
                               "b.dispatchEvent(new Event('change', {bubbles: true}));")  # fmt: skip
        wait_for(lambda: fully_loaded(browser, "%22color%22%3A%22%2300ff00%22"))
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-omezarr-gfp.png"))
        r, g, b = _mean_rgb(ARTIFACTS / "viewer-omezarr-gfp.png")
        assert g > 40 and r < 5 and b < 5
        # GFP's contrast alone: a narrower window brightens it
        browser.execute_script("const m = document.querySelector('.channel[data-index=\"1\"] .ch-max');"
                               "m.value = 10000; m.dispatchEvent(new Event('change', {bubbles: true}));")  # fmt: skip
        wait_for(lambda: fully_loaded(browser, "%22max%22%3A10000"))
        wait_for(lambda: drawn(browser, ARTIFACTS / "viewer-omezarr-gfp-contrast.png"))
        assert _mean_rgb(ARTIFACTS / "viewer-omezarr-gfp-contrast.png")[1] > g
        # the cursor: image coordinates and the raw values under it
        from selenium.webdriver.common.action_chains import ActionChains

        viewer = browser.find_element("id", "viewer")
        ActionChains(browser).move_to_element_with_offset(viewer, 5, 5).perform()
        ActionChains(browser).move_to_element(viewer).perform()
        wait_for(lambda: ":" in _text(browser, "cursor"))
        x, y = (int(v.split()[1]) for v in _text(browser, "cursor").split(":")[0].split(","))
        assert _text(browser, "cursor").endswith(f": {data[0, y, x]}, {data[1, y, x]}")
        # the SVS: properties and its label and macro in the metadata panel
        browser.get(f"{base}/view/{image_id('stores/he.svs')}")
        wait_for(lambda: fully_loaded(browser))
        wait_for(lambda: browser.execute_script(
            "return [...document.querySelectorAll('#associated img')].filter((i) => i.complete && i.naturalWidth)"
            ".map((i) => i.alt).sort().join(',');") == "label,macro,thumbnail")  # fmt: skip
        assert "aperio.AppMag" in _text(browser, "properties")
        assert console_errors(browser) == []


def test_the_index_page_pages_through_every_image(browser: Any, tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(203):  # more than one page (200 cards); the listing used to stop at the first 1,000
        PILImage.fromarray(np.full((8, 8), i, np.uint8)).save(root / f"img{i:03d}.png")
    with live_server(create_app([root], cache="memory://")) as base:
        browser.get(base + "/")
        wait_for(lambda: len(browser.find_elements("css selector", ".card")) == 200)
        assert _text(browser, "page-of") == "page 1 of 2" and "203 images (1–200)" in _text(browser, "count")  # noqa: RUF001
        browser.find_element("link text", "next ›").click()  # noqa: RUF001 - the page's text
        wait_for(lambda: len(browser.find_elements("css selector", ".card")) == 3)
        names = [e.text for e in browser.find_elements("css selector", ".card .name")]
        assert names == ["many/img200.png", "many/img201.png", "many/img202.png"]
        assert console_errors(browser) == []


def test_a_cohort_is_grouped_by_subject_and_filtered_in_sql(browser: Any, tmp_path: Path) -> None:
    import pandas as pd

    from ziggurat.cohort import ingest
    from ziggurat.cohort.store import current_tables
    from ziggurat.testing.cohorts import write_slide_folder

    slides, manifest = write_slide_folder(tmp_path / "slides", slides=4, size=(400, 300))
    study = ingest(slides, tmp_path / "study", manifest=manifest, workers=1).root
    images = pd.read_parquet(current_tables(study).images)  # the truth: the Parquet table, read by pandas

    def shown() -> dict[str, int]:
        sections = browser.find_elements("css selector", "section.subject")
        return {s.get_attribute("data-subject"): len(s.find_elements("css selector", ".card")) for s in sections}

    with live_server(create_app([study], cache="memory://")) as base:
        browser.get(base + "/")
        wait_for(lambda: shown() == images.groupby("subject_id").size().to_dict())
        tumours = images[images.label == "tumour"]
        assert 0 < len(tumours) < len(images)
        browser.find_element("id", "where").send_keys("label = 'tumour'")
        browser.find_element("css selector", "#filter button").click()
        wait_for(lambda: "where=" in browser.current_url)
        wait_for(lambda: shown() == tumours.groupby("subject_id").size().to_dict())
        assert _text(browser, "count") == f"{len(tumours)} image{'s' * (len(tumours) > 1)}"
        assert console_errors(browser) == []
        browser.find_element("id", "where").clear()
        browser.find_element("id", "where").send_keys("label >")
        browser.find_element("css selector", "#filter button").click()
        wait_for(lambda: "syntax error" in _text(browser, "filter-error"))
