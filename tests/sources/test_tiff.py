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
