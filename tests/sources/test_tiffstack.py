"""The tiffstack backend against tifffile/Pillow: folders of slices (tif, zlib tif, png), a multi-page TIFF."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from ziggurat.testing.sources import SourceTests, tiffstack_reference

STACK = np.random.default_rng(9).integers(0, 65535, (9, 40, 55)).astype(np.uint16)


class TestSliceFolders(SourceTests):
    backend = "tiffstack"
    read_reference = staticmethod(tiffstack_reference)

    @pytest.fixture(scope="class", params=["tif", "tif-zlib", "png"])
    @classmethod
    def path(cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("stack") / request.param
        folder.mkdir()
        for z, plane in enumerate(STACK):
            if request.param == "png":
                PILImage.fromarray(plane).save(folder / f"slice_{z:03d}.png")
            else:
                tifffile.imwrite(
                    folder / f"slice_{z:03d}.tif", plane, compression="zlib" if "zlib" in request.param else None
                )
        return folder


class TestMultipage(SourceTests):
    backend = "tiffstack"
    detected = "tiff"  # a multi-page TIFF opens as a stack only when asked
    open_options: ClassVar[dict[str, str]] = {"backend": "tiffstack"}
    read_reference = staticmethod(tiffstack_reference)

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp("stack") / "pages.tif"
        tifffile.imwrite(path, STACK, compression="zlib", metadata={"axes": "ZYX"})
        return path
