"""``ziggurat.plane`` of a volume is itself an Image: the suite runs on a coronal plane of a stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.model.image import Image
from ziggurat.testing.sources import Reference, SourceTests, tiffstack_reference

ROW = 17


class TestCoronalPlane(SourceTests):
    backend = "plane"
    detected = None  # the path is the volume's

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp("plane") / "pages.tif"
        volume = np.random.default_rng(10).integers(0, 4000, (12, 40, 300)).astype(np.uint16)
        tifffile.imwrite(path, volume, tile=(16, 64), compression="zlib", metadata={"axes": "ZYX"})
        return path

    @pytest.fixture(scope="class")
    @classmethod
    def image(cls, path: Path) -> Iterator[Image]:
        with ziggurat.open(path, backend="tiffstack") as volume:
            yield ziggurat.plane(volume, "coronal", ROW)

    @classmethod
    def read_reference(cls, path: Path) -> Reference:
        return Reference([tiffstack_reference(path).levels[0][:, ROW, :, None]], "yxc")
