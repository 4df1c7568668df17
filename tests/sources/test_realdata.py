"""Every real file in ../shared/realdata: pixels against tifffile's full decode and openslide."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.cli import main as cli_main

TIFF_FILES = [
    "svs/CMU-1-Small-Region.svs",
    "svs/tcga-cr-7395-01a-01-ts1.svs",
    "qptiff/small_vectra.qptiff",
    "tiff/kidney-48-5.tif",
    "tiff/pathml_smalltif.tif",
    "tiff/fei-sem-rbc.tif",
]
#: multi-dimensional TIFFs: every axis kept (c z y x; t y x)
STACK_FILES = {"ome-tiff/multi-channel-z-series.ome.tif": "czyx", "tiff-stack/calcium_imaging.tif": "tyx"}
OPENSLIDE_FILES = ["svs/CMU-1-Small-Region.svs", "svs/tcga-cr-7395-01a-01-ts1.svs"]


@pytest.mark.parametrize("name", sorted(STACK_FILES))
def test_stacks_keep_every_axis(realdata: Path, name: str) -> None:
    with ziggurat.open(realdata / name) as image, tifffile.TiffFile(realdata / name) as tif:
        truth = tif.series[0].asarray()
        assert image.axes == STACK_FILES[name]
        assert image.shape == truth.shape  # tifffile's order is already c z y x / (q) y x
        np.testing.assert_array_equal(np.asarray(image), truth)
        np.testing.assert_array_equal(image[..., 10:20, 5:9], truth[..., 10:20, 5:9])


def _tifffile_level(path: Path, level: int) -> np.ndarray:
    """Level pixels as (H, W, C) from tifffile's own full decode, first Z/T plane."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0].levels[level]
        data = series.asarray()
        axes = series.axes
    for axis in axes:
        if axis not in "CYXS":
            data = np.take(data, 0, axis=axes.index(axis))
            axes = axes.replace(axis, "")
    if "C" in axes:
        data = np.moveaxis(data, axes.index("C"), -1)
    elif "S" in axes and axes.index("S") == 0:
        data = np.moveaxis(data, 0, -1)
    return data if data.ndim == 3 else data[..., None]


@pytest.mark.parametrize("name", TIFF_FILES)
def test_levels_equal_tifffile_decode(realdata: Path, name: str) -> None:
    path = realdata / name
    with ziggurat.open(path) as image, tifffile.TiffFile(path) as tif:
        assert image.level_count == len(tif.series[0].levels)
        for i, level in enumerate(image.levels):
            truth = _tifffile_level(path, i)
            np.testing.assert_array_equal(level[:, :], truth)
            # an unaligned window inside the level
            h, w = truth.shape[:2]
            y0, x0 = h // 3, w // 5
            np.testing.assert_array_equal(
                level[y0 : y0 + h // 2, x0 : x0 + w // 2], truth[y0 : y0 + h // 2, x0 : x0 + w // 2]
            )


@pytest.mark.parametrize("name", OPENSLIDE_FILES)
def test_matches_openslide(realdata: Path, name: str) -> None:
    openslide = pytest.importorskip("openslide")
    path = realdata / name
    ref = openslide.OpenSlide(path)
    with ziggurat.open(path) as image:
        assert image.level_dimensions == ref.level_dimensions
        assert image.level_downsamples == pytest.approx(ref.level_downsamples)
        for key in ("openslide.mpp-x", "openslide.mpp-y", "openslide.objective-power", "openslide.vendor"):
            assert image.properties.get(key) == ref.properties.get(key), key
        for key, value in ref.properties.items():
            if key.startswith(("aperio.", "tiff.ImageDescription")):
                assert image.properties[key] == value, key
        assert sorted(image.associated_images) == sorted(ref.associated_images)
        for assoc, pic in ref.associated_images.items():
            np.testing.assert_array_equal(image.associated_images[assoc], np.asarray(pic.convert("RGB")))
        rng = np.random.default_rng(1)
        for level in range(ref.level_count):
            ds = ref.level_downsamples[level]
            w0, h0 = ref.dimensions
            # openslide maps level-0 locations with a fractional offset when the downsample is not
            # an integer (2.0005 here); ziggurat floors. Compare those levels from the origin only.
            step = int(ds) if float(ds).is_integer() else 0
            for _ in range(5):
                # regions that run off every edge too
                x = int(rng.integers(-300, w0)) // step * step if step else 0
                y = int(rng.integers(-300, h0)) // step * step if step else 0
                size = (int(rng.integers(1, 700)), int(rng.integers(1, 700)))
                expected = np.asarray(ref.read_region((x, y), level, size))
                got = image.read_region((x, y), level, size, rgba=True)
                assert np.abs(got.astype(int) - expected.astype(int)).max() <= 2


# files `info` must refuse with one line: an index without pixels, and a DICOM-WSI whose frames are
# stored in a non-standard order that openslide and wsidicom refuse too (see realdata/README.md)
REFUSED: set[str] = set()
MEDIA_SETS = {"dicom/dicomdir-pydicom/DICOMDIR"}  # 13 series: info lists them (open one with --series)


def _every_realdata_path(root: Path) -> list[str]:
    folders = {"tiff-stack/stent-ct", "dicom/series-ct-ge-tilt"}
    files = [
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and p.suffix != ".md" and str(p.parent.relative_to(root)) not in folders
    ]  # fmt: skip
    return sorted(files) + sorted(folders)


def test_info_cli_runs_on_every_file(realdata: Path, capsys: pytest.CaptureFixture) -> None:
    paths = _every_realdata_path(realdata)
    assert len(paths) > 50
    for name in paths:
        code = cli_main(["info", "--json", str(realdata / name)])
        out = capsys.readouterr()
        if name in REFUSED:
            assert code == 2 and out.err.strip().count("\n") == 0, (name, out.err)
            assert out.err.startswith("ziggurat: error:") and Path(name).name in out.err
            continue
        assert code == 0, (name, out.err)
        facts = json.loads(out.out)
        assert facts["path"].endswith(name)
        if name in MEDIA_SETS:
            assert len(facts["series"]) == 13 and facts["backend"] == "dicomdir"
            continue
        assert facts.get("levels"), name
        assert facts["backend_claims"][0]["score"] >= facts["backend_claims"][-1]["score"], name
        assert facts["backend"] in facts["backend_reason"], name


def test_svs_metadata(realdata: Path) -> None:
    with ziggurat.open(realdata / "svs/CMU-1-Small-Region.svs") as image:
        assert image.format == "aperio"
        assert image.mpp == (0.499, 0.499)
        assert image.objective_power == 20
        assert image.levels[0].tile_shape == (240, 240)
    with ziggurat.open(realdata / "svs/tcga-cr-7395-01a-01-ts1.svs") as image:
        assert image.mpp is None  # the description has no MPP: never invent one


def test_ome_and_qptiff_channels(realdata: Path) -> None:
    with ziggurat.open(realdata / "ome-tiff/multi-channel-z-series.ome.tif") as image:
        assert image.format == "ome-tiff"
        assert image.shape[0] == 3 and image.dtype == np.int8  # c z y x
        assert len(image.channel_names) == 3
    with ziggurat.open(realdata / "qptiff/small_vectra.qptiff") as image:
        assert image.channels == 3
        assert image.mpp == pytest.approx((0.4965, 0.4965), rel=1e-3)
