"""The pillow backend against Pillow, on pictures written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from ziggurat.testing.sources import SourceTests, pillow_reference

PICTURES = {"rgb.png": (70, 90, 3), "grey.png": (40, 50), "rgba.png": (33, 47, 4), "rgb.bmp": (20, 30, 3)}


class TestPillow(SourceTests):
    backend = "pillow"
    read_reference = staticmethod(pillow_reference)

    @pytest.fixture(scope="class", params=sorted(PICTURES))
    @classmethod
    def path(cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
        pixels = np.random.default_rng(4).integers(0, 256, PICTURES[request.param], dtype=np.uint8)
        path = tmp_path_factory.mktemp("pillow") / request.param
        PILImage.fromarray(pixels).save(path)
        return path
