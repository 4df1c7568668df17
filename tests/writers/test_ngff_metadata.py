"""OME-Zarr others can read: units from the source (none when unknown), --spacing/--unit, the omero block.

Read back with ome-zarr-py (napari's reader) and validated with ome-zarr-models, not with ziggurat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ziggurat
from ziggurat.cli import main
from ziggurat.writers.omezarr.builder import build_pyramid

ome_reader = pytest.importorskip("ome_zarr.reader")
ome_io = pytest.importorskip("ome_zarr.io")
models = pytest.importorskip("ome_zarr_models.v05.image")


def _napari_view(store: Path) -> dict[str, Any]:
    """What napari's ome-zarr plugin shows: the first node's metadata."""
    (node, *_) = list(ome_reader.Reader(ome_io.parse_url(str(store)))())
    return dict(node.metadata)


def _ome(store: Path) -> dict[str, Any]:
    import zarr

    models.Image.from_zarr(zarr.open_group(store, mode="r"))  # validates against NGFF 0.5
    ome: dict[str, Any] = json.loads((store / "zarr.json").read_text())["attributes"]["ome"]
    return ome


def _units(store: Path) -> dict[str, str | None]:
    return {a["name"]: a.get("unit") for a in _ome(store)["multiscales"][0]["axes"]}


def test_channel_names_colours_and_windows_read_back_in_ome_zarr_py(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = rng.integers(100, 4000, (2, 4, 64, 64), dtype=np.uint16)
    image = ziggurat.from_array(data, axes="czyx", spacing=(1.0, 0.5, 0.2, 0.2), channel_names=["DAPI", "GFP"])
    image.metadata.channel_colors = [(0, 0, 255), (0, 255, 0)]
    out = build_pyramid(image, tmp_path / "c.zarr", levels=2)
    seen = _napari_view(out)
    assert seen["channel_names"] == ["DAPI", "GFP"]
    assert [c[-1] for c in seen["colormap"]] == [[0, 0, 1], [0, 1, 0]]
    import zarr

    last = _ome(out)["multiscales"][0]["datasets"][-1]["path"]
    coarsest = np.asarray(zarr.open_array(out / last, mode="r"))  # the level the window is measured on
    for channel, limits in enumerate(seen["contrast_limits"]):
        np.testing.assert_allclose(limits, np.percentile(coarsest[channel], (0.5, 99.5)))
    omero = _ome(out)["omero"]
    assert omero["channels"][0]["window"]["min"] == 0 and omero["channels"][0]["window"]["max"] == 65535
    assert omero["rdefs"]["model"] == "color"


def test_an_array_without_units_gets_none_not_millimetres(tmp_path: Path) -> None:
    out = build_pyramid(np.zeros((8, 40, 40), np.uint8), tmp_path / "em.zarr")
    assert _units(out) == {"z": None, "y": None, "x": None}
    assert _napari_view(out)["channel_names"] == ["0"]


def test_units_from_the_source(realdata: Path, tmp_path: Path) -> None:
    assert main(["pyramid", str(realdata / "svs" / "CMU-1-Small-Region.svs"), str(tmp_path / "s.zarr"), "-q"]) == 0
    assert _units(tmp_path / "s.zarr") == {"c": None, "y": "micrometer", "x": "micrometer"}
    scale = _ome(tmp_path / "s.zarr")["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [1.0, 0.499, 0.499]  # openslide's MPP, in µm
    assert _napari_view(tmp_path / "s.zarr")["channel_names"] == ["red", "green", "blue"]
    assert main(["convert", str(realdata / "nifti" / "anatomical.nii"), str(tmp_path / "a.zarr"), "-q"]) == 0
    assert _units(tmp_path / "a.zarr") == {"z": "millimeter", "y": "millimeter", "x": "millimeter"}


@pytest.mark.parametrize("command", ["convert", "pyramid"])
def test_spacing_and_unit_options(realdata: Path, tmp_path: Path, command: str) -> None:
    nifti = realdata / "nifti" / "anatomical.nii"
    out = tmp_path / "o.zarr"
    assert main([command, str(nifti), str(out), "--spacing", "40,8,8", "--unit", "nm", "-q"]) == 0
    assert _units(out) == {"z": "nanometer", "y": "nanometer", "x": "nanometer"}
    scale = _ome(out)["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [40.0, 8.0, 8.0]


def test_bad_spacing_or_unit_is_one_line(realdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nifti = str(realdata / "nifti" / "anatomical.nii")
    assert main(["convert", nifti, str(tmp_path / "o.zarr"), "--spacing", "1,2"]) == 2
    assert "expected 3 positive steps (Z,Y,X)" in capsys.readouterr().err
    assert main(["convert", nifti, str(tmp_path / "o.zarr"), "--unit", "furlong"]) == 2
    assert "unknown unit 'furlong'" in capsys.readouterr().err
    assert not (tmp_path / "o.zarr").exists()
