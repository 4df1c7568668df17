"""A server to deploy: CORS, access logs, unique ids for every root, the viewer's assets in the package."""

from __future__ import annotations

import filecmp
import importlib.util
import shutil
import subprocess
import tomllib
from pathlib import Path

import httpx
import pytest

from ziggurat.cli import main
from ziggurat.errors import ZigguratError
from ziggurat.server import create_app
from ziggurat.server.app import VENDOR, openseadragon_dir
from ziggurat.server.catalog import Catalog, image_id, root_labels
from ziggurat.server.thread import live_server
from ziggurat.testing.servers import ServeProcess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_slides(tmp_path_factory: pytest.TempPathFactory, sample_slide: Path) -> tuple[Path, Path]:
    """Two folders with the same base name, each holding a slide of the same name."""
    base = tmp_path_factory.mktemp("roots")
    roots = base / "lab-a" / "slides", base / "lab-b" / "slides"
    for root in roots:
        root.mkdir(parents=True)
        shutil.copy(sample_slide, root / "case.tif")
    return roots


def test_cors_lets_another_origin_load_the_dzi(two_slides: tuple[Path, Path]) -> None:
    origin = "https://viewer.example.org"
    ident = image_id("slides/case.tif")  # one root: its base name
    with live_server(create_app([two_slides[0]], cache="memory://", cors=origin)) as base:
        got = httpx.get(f"{base}/api/images/{ident}.dzi", headers={"Origin": origin})
        assert got.status_code == 200 and got.headers["access-control-allow-origin"] == origin
        preflight = httpx.options(f"{base}/api/images/{ident}_files/0/0_0.jpeg",
                                  headers={"Origin": origin, "Access-Control-Request-Method": "GET"})  # fmt: skip
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
        other = httpx.get(f"{base}/api/images/{ident}.dzi", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
    with live_server(create_app([two_slides[0]], cache="memory://", cors="*")) as base:
        got = httpx.get(f"{base}/api/images", headers={"Origin": "https://any.example"})
        assert got.headers["access-control-allow-origin"] == "*"
    with live_server(create_app([two_slides[0]], cache="memory://")) as base:  # no CORS unless asked
        assert "access-control-allow-origin" not in httpx.get(f"{base}/api/images", headers={"Origin": origin}).headers


def test_two_roots_with_one_base_name_get_distinct_ids(two_slides: tuple[Path, Path]) -> None:
    entries = Catalog(list(two_slides)).entries()
    assert [e.name for e in entries] == ["lab-a/slides/case.tif", "lab-b/slides/case.tif"]
    assert len({e.id for e in entries}) == 2
    # a single root keeps its short name (and so its id across versions)
    assert [e.name for e in Catalog([two_slides[0]]).entries()] == ["slides/case.tif"]


def test_ambiguous_roots_are_refused_at_start_up(two_slides: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    a, b = two_slides
    with pytest.raises(ZigguratError, match="given twice"):
        root_labels([a, a])
    with pytest.raises(ZigguratError, match="lies inside"):
        root_labels([a.parent, a])
    assert main(["serve", str(a), str(a.parent), "--check"]) == 2
    assert "lies inside" in capsys.readouterr().err
    assert root_labels([a, b, a.parent.parent / "other"]) == ["lab-a/slides", "lab-b/slides", "other"]


def test_serve_cli_cors_and_access_log(two_slides: tuple[Path, Path]) -> None:
    with ServeProcess([*map(str, two_slides), "--access-log", "--cors", "*"]) as server:
        listing = httpx.get(f"{server.base}/api/images?limit=7", headers={"Origin": "https://x.example"})
        assert listing.status_code == 200 and listing.json()["total"] == 2
        assert listing.headers["access-control-allow-origin"] == "*"
    assert '"GET /api/images?limit=7 HTTP/1.1" 200' in server.out


def test_the_viewer_assets_are_inside_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = REPO / "node_modules" / "openseadragon" / "build" / "openseadragon"
    if not (node / "openseadragon.min.js").is_file():
        pytest.skip("npm packages not installed (scripts/setup runs npm install)")
    spec = importlib.util.spec_from_file_location("ziggurat_setup", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)  # the build hook, without building
    monkeypatch.setattr(setup, "VENDOR", tmp_path / "vendor")
    setup.copy_vendor()
    copied = tmp_path / "vendor" / "openseadragon" / "openseadragon.min.js"
    assert filecmp.cmp(copied, node / "openseadragon.min.js", shallow=False)
    # the package data takes the vendored folder; git ignores it
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ziggurat"]
    assert "server/static/vendor/**/*" in data
    ignored = subprocess.run(["git", "check-ignore", "-q", str(VENDOR / "openseadragon" / "x.js")], cwd=REPO)
    assert ignored.returncode == 0
    # the server prefers the package's copy over a checkout's node_modules
    if (VENDOR / "openseadragon" / "openseadragon.min.js").is_file():
        monkeypatch.delenv("ZIGGURAT_OPENSEADRAGON", raising=False)
        assert openseadragon_dir() == VENDOR / "openseadragon"
