"""The tile server's API against a real uvicorn on loopback: listing, metadata, DeepZoom and XYZ
tiles (pixels checked against openslide's DeepZoomGenerator), HTTP semantics, errors, path safety."""

from __future__ import annotations

import http.client
import io
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image as PILImage

from ziggurat.server import create_app
from ziggurat.server.api import ROUTES
from ziggurat.server.catalog import image_id
from ziggurat.server.thread import live_server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_slide: Path) -> Path:
    """A served folder: two slides, one in a subfolder, a non-image, a fake .tif, escaping links."""
    root = tmp_path_factory.mktemp("served") / "slides"
    (root / "sub").mkdir(parents=True)
    shutil.copy(sample_slide, root / "a.tif")
    shutil.copy(sample_slide, root / "sub" / "b.tif")
    (root / "notes.txt").write_text("not an image")
    (root / "broken.tif").write_bytes(b"II*\x00garbage" * 10)
    outside = tmp_path_factory.mktemp("outside")
    shutil.copy(sample_slide, outside / "secret.tif")
    (root / "escape.tif").symlink_to(outside / "secret.tif")
    (root / "escape-dir").symlink_to(outside, target_is_directory=True)
    (root / "inside-link.tif").symlink_to(root / "a.tif")
    return root


@pytest.fixture(scope="module")
def base(served: Path) -> Iterator[str]:
    with live_server(create_app([served], cache="memory://", rescan_seconds=0)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as c:
        yield c


def ident(name: str) -> str:
    return image_id(f"slides/{name}")


def raw_get(base: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` byte for byte (no client-side normalisation of ``..`` or ``%2F``)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == status and response.json()["error"]
    assert "Traceback" not in response.text


# -- catalog and metadata --------------------------------------------------------------------
def test_listing_names_ids_and_skips_non_images_and_escaping_links(client: httpx.Client) -> None:
    page = client.get("/api/images").json()
    names = sorted(item["name"] for item in page["items"])
    assert names == ["slides/a.tif", "slides/inside-link.tif", "slides/sub/b.tif"]
    assert page["total"] == 4  # broken.tif is counted until someone tries to open it
    for item in page["items"]:
        assert item["id"] == image_id(item["name"])
        assert item["dimensions"] == [3000, 2000] and item["format"] and item["levels"] >= 3
    assert client.get("/api/images").json()["total"] == 3  # now known not to be an image


def test_pagination(client: httpx.Client) -> None:
    first = client.get("/api/images", params={"limit": 2}).json()
    rest = client.get("/api/images", params={"offset": 2, "limit": 2}).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1
    assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in rest["items"])
    assert_json_error(client.get("/api/images", params={"limit": 0}), 400)
    assert_json_error(client.get("/api/images", params={"offset": "x"}), 400)


def test_ids_are_stable_and_new_files_appear_removed_ones_404(client: httpx.Client, served: Path) -> None:
    new = served / "sub" / "new.tif"
    shutil.copy(served / "a.tif", new)
    try:
        assert client.get(f"/api/images/{ident('sub/new.tif')}").status_code == 200
        assert "slides/sub/new.tif" in {i["name"] for i in client.get("/api/images").json()["items"]}
    finally:
        new.unlink()
    assert_json_error(client.get(f"/api/images/{ident('sub/new.tif')}"), 404)
    assert_json_error(client.get(f"/api/images/{ident('sub/new.tif')}_files/0/0_0.jpeg"), 404)


def test_metadata_matches_the_image_and_hides_paths(client: httpx.Client, sample_slide: Path) -> None:
    import ziggurat

    info = client.get(f"/api/images/{ident('a.tif')}").json()
    with ziggurat.open(sample_slide) as image:
        assert info["dimensions"] == list(image.dimensions)
        assert [(lvl["width"], lvl["height"]) for lvl in info["levels"]] == list(image.level_dimensions)
        assert info["mpp"] == list(image.mpp)
    assert info["id"] == ident("a.tif") and info["name"] == "slides/a.tif"
    assert str(sample_slide.parent) not in str(info) and "path" not in info


def test_unreadable_file_is_a_json_error(client: httpx.Client) -> None:
    response = client.get(f"/api/images/{ident('broken.tif')}")
    assert response.status_code in (404, 422)
    assert_json_error(response, response.status_code)


def test_openapi_documents_every_api_route(client: httpx.Client) -> None:
    from openapi_spec_validator import validate

    spec = client.get("/api/openapi.json").json()
    validate(spec)
    for route in ROUTES:
        path = route.path.replace(":digits", "")
        assert path in spec["paths"], path
        assert "get" in spec["paths"][path]


# -- tiles -----------------------------------------------------------------------------------
def decode(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))


def test_dzi_descriptor_matches_openslide(client: httpx.Client, sample_slide: Path) -> None:
    from openslide import OpenSlide
    from openslide.deepzoom import DeepZoomGenerator

    response = client.get(f"/api/images/{ident('a.tif')}.dzi")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    with OpenSlide(sample_slide) as slide:
        theirs = ET.fromstring(DeepZoomGenerator(slide, 254, 1).get_dzi("jpeg"))
    ours = ET.fromstring(response.text)
    assert ours.attrib == theirs.attrib
    assert ours[0].attrib == theirs[0].attrib


@pytest.mark.parametrize(("level", "col", "row", "mean"), [
    (12, 0, 0, 1.5), (12, 11, 7, 1.5), (11, 3, 2, 1.5), (9, 0, 0, 1.5),  # stored levels: decoders differ
    (7, 0, 0, 8), (5, 0, 0, 8),  # coarser than any stored level: area average vs openslide's Lanczos
])  # fmt: skip
def test_deepzoom_tiles_match_openslide(
    client: httpx.Client, sample_slide: Path, level: int, col: int, row: int, mean: float
) -> None:
    from openslide import OpenSlide
    from openslide.deepzoom import DeepZoomGenerator

    response = client.get(f"/api/images/{ident('a.tif')}_files/{level}/{col}_{row}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    ours = decode(response.content)
    with OpenSlide(sample_slide) as slide:
        dz = DeepZoomGenerator(slide, 254, 1)
        assert dz.level_count == 13
        theirs = np.asarray(dz.get_tile(level, (col, row)).convert("RGB"))
    assert ours.shape == theirs.shape
    diff = np.abs(ours.astype(int) - theirs.astype(int))
    assert diff.mean() < mean, diff.mean()


def test_xyz_tiles_are_square_jpeg(client: httpx.Client) -> None:
    response = client.get(f"/api/images/{ident('a.tif')}/tiles/0/0/0.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert decode(response.content).shape == (256, 256, 3)
    assert_json_error(client.get(f"/api/images/{ident('a.tif')}/tiles/0/1/0.jpg"), 404)


def test_styles_change_pixels_and_bad_styles_are_400(client: httpx.Client) -> None:
    url = f"/api/images/{ident('a.tif')}_files/9/0_0.png"
    plain = decode(client.get(url).content)
    inverted = decode(client.get(url, params={"style": '{"invert": true}'}).content)
    assert np.abs(plain.astype(int) + inverted.astype(int) - 255).max() <= 1
    gray = decode(client.get(url, params={"style": '{"channels": [{"index": 1}], "colormap": "gray"}'}).content)
    assert np.array_equal(gray[..., 0], gray[..., 2]) and np.abs(gray[..., 0].astype(int) - plain[..., 1]).max() <= 1
    assert client.get(url, params={"style": "fluorescence"}).status_code == 200
    assert client.get(url, params={"style": '{"channels": [{"index": 0}], "colormap": "viridis"}'}).status_code == 200
    for bad in ("{not json", '{"colour": "red"}', '{"min": 10, "max": 5}', "no-such-preset", "viridis"):
        assert_json_error(client.get(url, params={"style": bad}), 400)


@pytest.mark.parametrize("path", [
    "{id}_files/99/0_0.jpeg",  # level past the finest
    "{id}_files/12/12_0.jpeg",  # column outside the grid
    "{id}_files/12/0_8.jpeg",  # row outside the grid
    "{id}_files/12/-1_0.jpeg",
    "{id}/tiles/9/0/0.jpeg",
    "0000000000000000_files/0/0_0.jpeg",
])  # fmt: skip
def test_tiles_outside_the_grid_or_unknown_ids_are_404(client: httpx.Client, path: str) -> None:
    assert_json_error(client.get("/api/images/" + path.format(id=ident("a.tif"))), 404)


@pytest.mark.parametrize("query", [
    "_files/12/0_0.gif", "_files/12/0_0.numpy", "_files/12/0_0.jpeg?quality=0",
    "_files/12/0_0.jpeg?tile_size=big", "/region?x=0&y=0&width=99999&height=99999",
    "/region?x=0&y=0", "/region?x=0&y=0&width=10&height=10&level=9", "/thumbnail?max=0",
    "/thumbnail?format=bmp",
])  # fmt: skip
def test_bad_parameters_are_400(client: httpx.Client, query: str) -> None:
    assert_json_error(client.get(f"/api/images/{ident('a.tif')}{query}"), 400)


HUGE = "9" * 5000  # int() of it raises ValueError (over Python's 4,300 digits): it must never be tried


@pytest.mark.parametrize("query", [
    f"_files/{HUGE}/0_0.jpeg", f"_files/12/{HUGE}_0.jpeg", f"_files/12/0_{HUGE}.jpeg", f"/tiles/{HUGE}/0/0.png",
    f"/tiles/0/{'0' * 40}/0.png", f"/region?x={HUGE}&y=0&width=10&height=10", f"/thumbnail?max={HUGE}",
    f"/thumbnail?quality={'1' * 30}", "/thumbnail?style=" + '{"max": ' + HUGE + "}",
    "/thumbnail?style=" + '{"a":' * 3000, "/thumbnail?style=" + '{"a": ' + '[' * 7000,
    "/thumbnail?style=" + '{"gamma": 1e400}',
])  # fmt: skip
def test_huge_numbers_and_deep_json_are_400(client: httpx.Client, query: str) -> None:
    assert_json_error(client.get(f"/api/images/{ident('a.tif')}{query}"), 400)
    assert_json_error(client.get(f"/api/images?offset={HUGE}"), 400)


def test_region_and_thumbnail(client: httpx.Client, sample_slide: Path) -> None:
    import ziggurat

    response = client.get(f"/api/images/{ident('a.tif')}/region",
                          params={"x": 1000, "y": 500, "width": 300, "height": 200, "level": 1})  # fmt: skip
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    with ziggurat.open(sample_slide) as image:
        assert np.array_equal(decode(response.content), image.read_region((1000, 500), 1, (300, 200)))
    thumb = client.get(f"/api/images/{ident('a.tif')}/thumbnail", params={"max": 200})
    assert thumb.headers["content-type"] == "image/jpeg"
    assert decode(thumb.content).shape == (133, 200, 3)


# -- HTTP semantics --------------------------------------------------------------------------
def test_etag_304_cache_control_and_head(client: httpx.Client) -> None:
    url = f"/api/images/{ident('a.tif')}_files/11/1_1.jpeg"
    first = client.get(url)
    etag = first.headers["etag"]
    assert first.status_code == 200 and "max-age" in first.headers["cache-control"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url + "?quality=50").headers["etag"] != etag
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag and int(head.headers["content-length"]) == len(first.content)
    meta = client.get(f"/api/images/{ident('a.tif')}")
    assert (
        client.get(f"/api/images/{ident('a.tif')}", headers={"If-None-Match": meta.headers["etag"]}).status_code == 304
    )


def test_unknown_routes_and_methods_are_json(client: httpx.Client) -> None:
    assert_json_error(client.get("/api/nothing"), 404)
    assert_json_error(client.post("/api/images"), 405)


# -- path safety -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/api/images/../../../etc/passwd",
    "/api/images/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd.dzi",
    "/api/images/..%2Foutside%2Fsecret.tif_files/0/0_0.jpeg",
    "/static/../app.py",
    "/static/..%2Fapp.py",
    "/static/%2e%2e/%2e%2e/catalog.py",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/vendor/openseadragon/..%2F..%2F..%2Fpackage.json",
    "/vendor/openseadragon/../../../../package.json",
    "/view/..%2F..%2Fetc%2Fpasswd",
])  # fmt: skip
def test_no_path_reaches_outside_the_roots(base: str, path: str) -> None:
    status, body = raw_get(base, path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"import" not in body and b"[project]" not in body


def test_symlinks_out_of_the_roots_are_invisible(client: httpx.Client) -> None:
    for name in ("escape.tif", "escape-dir/secret.tif"):
        assert_json_error(client.get(f"/api/images/{ident(name)}"), 404)
    assert client.get(f"/api/images/{ident('inside-link.tif')}").status_code == 200
    for query in ("..", "../outside/secret.tif", "/etc/passwd"):
        assert_json_error(client.get(f"/api/images/{quote(query, safe='')}"), 404)


# -- pages and concurrency -------------------------------------------------------------------
def test_pages_and_openseadragon_are_served(client: httpx.Client) -> None:
    assert "images" in client.get("/").text
    assert client.get(f"/view/{ident('a.tif')}").status_code == 200
    assert_json_error(client.get("/view/0000000000000000"), 404)
    osd = client.get("/vendor/openseadragon/openseadragon.min.js")
    assert osd.status_code == 200 and "OpenSeadragon" in osd.text


def test_metadata_stays_fast_while_tiles_decode(base: str) -> None:
    """Decoding runs in the threadpool, so the event loop answers other requests meanwhile."""
    import concurrent.futures

    urls = [
        f"{base}/api/images/{ident('sub/b.tif')}_files/12/{c}_{r}.png?quality=7" for c in range(12) for r in range(8)
    ]
    with concurrent.futures.ThreadPoolExecutor(16) as pool, httpx.Client(timeout=60) as c:
        futures = [pool.submit(c.get, u) for u in urls]
        time.sleep(0.05)
        start = time.perf_counter()
        assert c.get(f"{base}/api/images/{ident('a.tif')}").status_code == 200
        elapsed = time.perf_counter() - start
        assert all(f.result().status_code == 200 for f in futures)
    assert elapsed < 2.0  # decoding 96 PNG tiles takes several times longer


# -- the CLI, several workers, one shared cache ----------------------------------------------
def test_serve_cli_with_two_workers_shares_a_memcached_cache(served: Path) -> None:
    from pymemcache.client.base import Client

    from ziggurat.testing.servers import LocalServer, ServeProcess

    with LocalServer("memcached") as memcached:
        with ServeProcess([str(served), "--processes", "2", "--cache", memcached.url]) as server:
            base = server.base
            urls = [f"{base}/api/images/{ident('a.tif')}_files/11/{c}_{r}.jpeg" for c in range(6) for r in range(4)]
            first = [httpx.get(u, timeout=30).content for u in urls]  # a new connection each: any worker
            stats = Client(("127.0.0.1", memcached.port)).stats()
            again = [httpx.get(u, timeout=30).content for u in urls]
            after = Client(("127.0.0.1", memcached.port)).stats()
            assert stats[b"curr_items"] >= len(urls) and first == again
            # a repeat is a local hit or a memcached hit, never a miss and a second decode
            assert after[b"get_misses"] == stats[b"get_misses"]
            assert after[b"get_hits"] > stats[b"get_hits"]  # some repeats reached the other worker
    assert f"open {server.base}/" in server.out


def test_demo_check_serves_a_slide_non_interactively(sample_slide: Path) -> None:
    """The README's first command, in its CI form: set up, serve, fetch pages and a tile, stop."""
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(["bash", str(repo / "scripts" / "demo"), "--check", str(sample_slide)],
                          check=False, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check passed" in done.stdout and "_files/12/0_0.jpeg" in done.stdout


# -- volumes: planes through the same routes -------------------------------------------------
@pytest.fixture(scope="module")
def volume_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from ziggurat import from_array
    from ziggurat.testing.phantom import mri_volume
    from ziggurat.writers.nifti import write_nifti

    root = tmp_path_factory.mktemp("volumes") / "mri"
    root.mkdir()
    path = write_nifti(from_array(mri_volume((24, 80, 64)), axes="zyx", spacing=(2.0, 1.0, 0.5)), root / "head.nii.gz")
    with live_server(create_app([root], cache="memory://")) as url:
        yield url, path


def test_volumes_are_listed_and_planes_served_along_every_axis(volume_server: tuple[str, Path]) -> None:
    import ziggurat

    base, path = volume_server
    ident = image_id("mri/head.nii.gz")
    (item,) = httpx.get(f"{base}/api/images").json()["items"]
    assert item["id"] == ident and item["volume"]["shape"] == [24, 80, 64]
    assert item["dimensions"] == [64, 160]  # radiological, square pixels: 1 mm rows drawn as two 0.5 mm ones
    volume = ziggurat.open(path)
    for axis, index, plane in (("z", 5, volume.axial(5)), ("coronal", 40, volume.coronal(40)),
                               ("x", 63, volume.sagittal(63))):  # fmt: skip
        h, w = plane.shape
        response = httpx.get(f"{base}/api/images/{ident}/region",
                             params={"x": 0, "y": 0, "width": w, "height": h, "format": "npy",
                                     "axis": axis, "slice": index, "view": "storage"})  # fmt: skip
        assert response.status_code == 200, response.text
        assert np.array_equal(np.load(io.BytesIO(response.content))[..., 0], plane)
    dzi = ET.fromstring(httpx.get(f"{base}/api/images/{ident}.dzi", params={"axis": "y", "view": "storage"}).text)
    assert dzi[0].attrib == {"Width": "64", "Height": "24"}
    dzi = ET.fromstring(httpx.get(f"{base}/api/images/{ident}.dzi", params={"axis": "y"}).text)
    assert dzi[0].attrib == {"Width": "64", "Height": "96"}  # 2 mm slices under 0.5 mm columns
    assert httpx.get(f"{base}/api/images/{ident}_files/6/0_0.png", params={"axis": "x", "slice": 3}).status_code == 200
    for bad in ({"axis": "w"}, {"axis": "z", "slice": 24}, {"slice": -1}, {"slice": "mid"}, {"view": "upside"},
                {"t": 1}):  # fmt: skip
        assert_json_error(httpx.get(f"{base}/api/images/{ident}_files/6/0_0.png", params=bad), 400)


NASTY = ["", "-1", "0", "99999999999999999999", "1e3", "NaN", "%00", "é", "{}", "[1]", '{"channels": [{"index": 99}]}']


@pytest.mark.parametrize("param", ["x", "y", "width", "height", "level", "max", "quality", "tile_size",
                                   "overlap", "format", "style", "offset", "limit", "axis", "slice", "cohort",
                                   "where"])  # fmt: skip
def test_malformed_parameters_never_cause_a_server_error(client: httpx.Client, param: str) -> None:
    a = ident("a.tif")
    routes = ["/api/images", f"/api/images/{a}.dzi", f"/api/images/{a}_files/12/0_0.jpeg",
              f"/api/images/{a}/tiles/0/0/0.png", f"/api/images/{a}/thumbnail",
              f"/api/images/{a}/region?x=0&y=0&width=8&height=8"]  # fmt: skip
    for route in routes:
        for value in NASTY:
            response = client.get(route, params={param: value})
            assert response.status_code < 500, (route, param, value, response.text)
            if response.status_code >= 400:
                assert_json_error(response, response.status_code)


# -- one tile path: the server, the CLI and the library share cache keys -------------------------
def test_server_cli_and_library_share_tiles_through_redis(served: Path, tmp_path: Path) -> None:
    """A tile ``ziggurat tile --cache redis://`` stored is served from redis without rendering, and
    a tile the server rendered is what the CLI (another process) and the library find in redis."""
    import subprocess
    import sys

    import redis as redis_py

    import ziggurat
    from ziggurat.testing.servers import LocalServer

    style = '{"invert": true}'
    with LocalServer("redis") as redis:
        client = redis_py.Redis(port=redis.port)
        app = create_app([served], cache=redis.url, rescan_seconds=0)
        tiles = app.state.tiles
        with live_server(app) as base:
            # the CLI first: it renders and stores; the server then answers from redis
            out = tmp_path / "cli.jpeg"
            subprocess.run([sys.executable, "-m", "ziggurat.cli", "tile", str(served / "a.tif"), "11", "1", "1",
                            "-o", str(out), "--tile-size", "254", "--overlap", "1", "--style", style,
                            "--cache", redis.url], check=True)  # fmt: skip
            assert client.dbsize() == 1
            served_tile = httpx.get(f"{base}/api/images/{ident('a.tif')}_files/11/1_1.jpeg", params={"style": style})
            assert served_tile.status_code == 200 and served_tile.content == out.read_bytes()
            assert tiles.renders == 0 and client.dbsize() == 1
            # the server first: it renders and stores; the CLI and the library find it
            for url in (f"{base}/api/images/{ident('a.tif')}_files/12/2_3.png",
                        f"{base}/api/images/{ident('a.tif')}/tiles/2/1/1.webp"):  # fmt: skip
                assert httpx.get(url).status_code == 200
            assert tiles.renders == 2 and client.dbsize() == 3
            sets = client.info("commandstats")["cmdstat_set"]["calls"]
            again = tmp_path / "again.png"
            subprocess.run([sys.executable, "-m", "ziggurat.cli", "tile", str(served / "a.tif"), "12", "2", "3",
                            "-o", str(again), "--tile-size", "254", "--overlap", "1", "--encoding", "png",
                            "--cache", redis.url], check=True)  # fmt: skip
            assert again.read_bytes() == httpx.get(f"{base}/api/images/{ident('a.tif')}_files/12/2_3.png").content
            library = ziggurat.TileService(redis.url)
            webp = library.tile(ziggurat.open(served / "a.tif"), 2, 1, 1, grid="xyz", encoding="webp")
            assert webp == httpx.get(f"{base}/api/images/{ident('a.tif')}/tiles/2/1/1.webp").content
            assert library.renders == 0 and client.info("commandstats")["cmdstat_set"]["calls"] == sets
            assert client.dbsize() == 3


def test_volume_planes_are_cached_under_their_file_and_place(volume_server: tuple[str, Path]) -> None:
    base, _ = volume_server
    ident = image_id("mri/head.nii.gz")
    url = f"{base}/api/images/{ident}_files/7/0_0.npy"
    first = httpx.get(url, params={"axis": "x", "slice": 30})
    other = httpx.get(url, params={"axis": "x", "slice": 34})
    assert first.status_code == other.status_code == 200 and first.content != other.content
    assert httpx.get(url, params={"axis": "sagittal", "slice": 30}).content == first.content


def test_catalog_keeps_a_bounded_number_of_images_open(served: Path) -> None:
    from ziggurat.server.catalog import Catalog

    catalog = Catalog([served], max_open=2)
    entries = [e for e in catalog.entries() if e.name != "slides/broken.tif"]
    assert len(entries) == 3
    for entry in entries:
        catalog.open(entry)
    assert [catalog.opened(e) is not None for e in entries] == [False, True, True]  # the oldest went
    assert catalog.open(entries[1]) is catalog.opened(entries[1])  # a hit is the same open Image
