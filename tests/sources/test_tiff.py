"""The tiff backend against tifffile: the generated sample slide, odd generated layouts, realdata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from ziggurat.testing.sources import SourceTests, tiff_reference

REALDATA = [
    "svs/CMU-1-Small-Region.svs",
    "svs/tcga-cr-7395-01a-01-ts1.svs",
    "ome-tiff/multi-channel-z-series.ome.tif",
    "qptiff/small_vectra.qptiff",
    "tiff/kidney-48-5.tif",
    "tiff/pathml_smalltif.tif",
    "tiff/fei-sem-rbc.tif",
    "tiff-stack/calcium_imaging.tif",  # tyx: 1,000 frames
]

# name: (tifffile.imwrite keywords, shape, dtype)
GENERATED = {
    "tiled-zlib-nonsquare": ({"tile": (32, 48), "compression": "zlib"}, (100, 130, 3), "uint8"),
    "striped-lzw-gray16": ({"rowsperstrip": 7, "compression": "lzw"}, (51, 33), "uint16"),
    "planar-separate-tiled": (
        {"tile": (16, 32), "compression": "zlib", "planarconfig": "separate", "photometric": "rgb"},
        (3, 60, 70),
        "uint8",
    ),
    "float32-bigtiff": ({"tile": (16, 16), "compression": "zstd", "bigtiff": True}, (40, 50), "float32"),
    "uncompressed-rgb": ({}, (30, 41, 3), "uint8"),
    "ome-pyramid-subifds": ({}, (4, 90, 130), "uint16"),  # channels as pages, 3 levels
}


def write_ome_pyramid(path: Path, data: np.ndarray) -> None:
    with tifffile.TiffWriter(path, ome=True) as tif:
        meta = {"axes": "CYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.5}
        tif.write(data, tile=(32, 32), compression="zlib", subifds=2, metadata=meta)
        for step in (2, 4):
            tif.write(data[:, ::step, ::step], tile=(32, 32), compression="zlib", subfiletype=1)


class TestSampleSlide(SourceTests):
    """The generated pyramidal JPEG slide (4 levels, 256 px tiles)."""

    backend = "tiff"
    read_reference = staticmethod(tiff_reference)

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, sample_slide: Path) -> Path:
        return sample_slide


class TestGenerated(SourceTests):
    backend = "tiff"
    read_reference = staticmethod(tiff_reference)

    @pytest.fixture(scope="class", params=sorted(GENERATED), ids=str)
    @classmethod
    def path(cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
        kwargs, shape, dtype = GENERATED[request.param]
        data = np.random.default_rng(1).integers(0, 250, shape).astype(dtype)
        path = tmp_path_factory.mktemp("tiff") / f"{request.param}.tif"
        if request.param.startswith("ome-pyramid"):
            write_ome_pyramid(path, data)
        else:
            tifffile.imwrite(path, data, **kwargs)
        return path


class TestRealdata(SourceTests):
    backend = "tiff"
    read_reference = staticmethod(tiff_reference)

    @pytest.fixture(scope="class", params=REALDATA, ids=lambda name: name.rsplit("/", 1)[-1])
    @classmethod
    def path(cls, request: pytest.FixtureRequest, realdata: Path) -> Path:
        return realdata / request.param


# name: (shape, dtype, writer) for multi-dimensional TIFFs: every axis kept, physical sizes read
STACKS = {
    "ome-tczyx-tiled-pyramid": ((2, 3, 4, 80, 100), "uint16"),
    "imagej-tzcyx-contiguous": ((3, 4, 2, 40, 50), "uint16"),
    "imagej-tzyxs-rgb": ((2, 3, 30, 40, 3), "uint8"),
    "shaped-qyx-zlib": ((12, 30, 20), "float32"),
}


def write_stack(path: Path, name: str, data: np.ndarray) -> None:
    if name.startswith("ome"):
        meta = {"axes": "TCZYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0,
                "TimeIncrement": 1.5, "Channel": {"Name": ["DAPI", "GFP", "RFP"]}}  # fmt: skip
        with tifffile.TiffWriter(path, ome=True) as tif:
            tif.write(data, tile=(32, 32), compression="zlib", subifds=1, metadata=meta)
            tif.write(data[..., ::2, ::2], tile=(32, 32), compression="zlib", subfiletype=1)
    elif name.startswith("imagej"):
        axes = "TZCYX" if data.ndim == 5 and data.shape[-1] != 3 else "TZYXS"
        meta = {"axes": axes, "spacing": 2.5, "finterval": 0.25, "unit": "um"}
        tifffile.imwrite(path, data, imagej=True, metadata=meta, resolution=(1 / 0.3, 1 / 0.3))
    else:
        tifffile.imwrite(path, data, compression="zlib", rowsperstrip=7)


class TestStacks(SourceTests):
    backend = "tiff"
    read_reference = staticmethod(tiff_reference)

    @pytest.fixture(scope="class", params=sorted(STACKS), ids=str)
    @classmethod
    def path(cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
        shape, dtype = STACKS[request.param]
        data = np.random.default_rng(2).integers(0, 250, shape).astype(dtype)
        path = tmp_path_factory.mktemp("stacks") / f"{request.param}.tif"
        write_stack(path, request.param, data)
        return path


def test_stack_metadata(tmp_path: Path) -> None:
    """Axes, physical sizes and channel names as written (hand-given truth)."""
    import ziggurat

    for name, axes, scale, units in [
        ("ome-tczyx-tiled-pyramid", "tczyx", (1.5, 1.0, 2.0, 0.5, 0.325), ("second", None, *["micrometer"] * 3)),
        ("imagej-tzcyx-contiguous", "tczyx", (0.25, 1.0, 2.5, 0.3, 0.3), ("second", None, *["micrometer"] * 3)),
        ("imagej-tzyxs-rgb", "tczyx", (0.25, 1.0, 2.5, 0.3, 0.3), ("second", None, *["micrometer"] * 3)),
        ("shaped-qyx-zlib", "tyx", (1.0, 1.0, 1.0), (None, None, None)),
    ]:
        shape, dtype = STACKS[name]
        write_stack(tmp_path / f"{name}.tif", name, np.zeros(shape, dtype))
        with ziggurat.open(tmp_path / f"{name}.tif") as image:
            assert image.axes == axes, name
            assert image.scale == pytest.approx(scale), name
            assert image.units == units, name
            if name.startswith("ome"):
                assert image.channel_names == ["DAPI", "GFP", "RFP"]
                assert image.level_count == 2
