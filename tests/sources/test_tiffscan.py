"""The scanned open (IFD geometry without tifffile) gives exactly what tifffile's full parse gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from ziggurat.sources import tiffscan
from ziggurat.sources.tiff import ScannedLevel, TiffSource
from ziggurat.testing.sources import assert_same

SVS = ["svs/CMU-1-Small-Region.svs", "svs/tcga-cr-7395-01a-01-ts1.svs"]


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TiffSource, TiffSource]:
    scanned = TiffSource(str(path))
    with monkeypatch.context() as patch:
        patch.setattr(tiffscan, "scan", lambda _path: None)
        full = TiffSource(str(path))
    return scanned, full


def _same(scanned: TiffSource, full: TiffSource) -> None:
    assert all(isinstance(level, ScannedLevel) for level in scanned.levels)
    assert [(lvl.shape, lvl.dtype, lvl.chunks) for lvl in scanned.levels] == [
        (lvl.shape, lvl.dtype, lvl.chunks) for lvl in full.levels
    ]
    a, b = scanned.metadata, full.metadata
    assert (a.format, a.mpp, a.objective_power, a.associated_names) == (
        b.format, b.mpp, b.objective_power, b.associated_names,
    )  # fmt: skip
    assert a.properties == b.properties
    for ours, theirs in zip(scanned.levels, full.levels):
        h, w, c = ours.shape
        box = ((h // 3, min(h, h // 3 + 300)), (w // 4, min(w, w // 4 + 400)), (0, c))
        assert_same(ours.read(box), theirs.read(box), "scanned read")
        assert ours.raw_tiles([(0, 0)]) == theirs.raw_tiles([(0, 0)])  # type: ignore[attr-defined]
    for name in a.associated_names:
        assert_same(scanned.read_associated(name), full.read_associated(name), name)


@pytest.mark.parametrize("name", SVS)
def test_svs_scanned_like_tifffile(realdata: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _same(*_both(realdata / name, monkeypatch))


def test_generated_pyramid_scanned_like_tifffile(sample_slide: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _same(*_both(sample_slide, monkeypatch))


def test_bigtiff_big_endian_pyramid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = np.random.default_rng(3).integers(0, 255, (300, 500), dtype=np.uint16)
    path = tmp_path / "be.tif"
    with tifffile.TiffWriter(path, bigtiff=True, byteorder=">") as tif:
        tif.write(
            data,
            tile=(64, 64),
            compression="zlib",
            description="plain",
            metadata=None,
            resolution=(2e4, 2e4, "CENTIMETER"),
        )
        tif.write(data[::2, ::2], tile=(64, 64), compression="zlib", subfiletype=1, metadata=None)
    assert tiffscan.scan(str(path)) is not None
    _same(*_both(path, monkeypatch))


@pytest.mark.parametrize("kind", ["ome", "imagej", "stripped", "not-reduced", "uncompressed"])
def test_other_layouts_go_to_tifffile(tmp_path: Path, kind: str) -> None:
    data = np.zeros((3, 64, 64), np.uint8)
    path = tmp_path / f"{kind}.tif"
    if kind == "ome":
        tifffile.imwrite(path, data, ome=True, tile=(32, 32), compression="zlib")
    elif kind == "imagej":
        tifffile.imwrite(path, data, imagej=True)
    elif kind == "stripped":
        tifffile.imwrite(path, data[0], compression="zlib")
    elif kind == "not-reduced":
        with tifffile.TiffWriter(path) as tif:
            tif.write(data[0], tile=(32, 32), compression="zlib")
            tif.write(data[0, :32], tile=(32, 32), compression="zlib")  # a second image, not a level
    else:
        tifffile.imwrite(path, data[0], tile=(32, 32))
    assert tiffscan.scan(str(path)) is None
