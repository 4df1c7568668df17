"""The array backend (ziggurat.from_array): a two-level slide and a two-level czyx volume."""

from __future__ import annotations

import numpy as np
import pytest

import ziggurat
from ziggurat.model.image import Image
from ziggurat.testing.sources import Reference, SourceTests, array_reference

RNG = np.random.default_rng(5)
SLIDE = [RNG.integers(0, 256, (300, 420, 3), dtype=np.uint8), RNG.integers(0, 256, (150, 210, 3), dtype=np.uint8)]
VOLUME = [RNG.random((2, 12, 40, 50), dtype=np.float32), RNG.random((2, 12, 20, 25), dtype=np.float32)]


class TestArraySlide(SourceTests):
    backend = "array"

    @pytest.fixture(scope="class")
    @classmethod
    def image(cls) -> Image:
        return ziggurat.from_array(SLIDE, mpp=(0.5, 0.25))

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls) -> Reference:
        return array_reference(SLIDE, "yxc", scale=(0.25, 0.5, 1.0))


class TestArrayVolume(SourceTests):
    backend = "array"

    @pytest.fixture(scope="class")
    @classmethod
    def image(cls) -> Image:
        return ziggurat.from_array(VOLUME, axes="czyx", spacing=(1, 2.5, 0.7, 0.8), chunks=(1, 5, 16, 16))

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls) -> Reference:
        return array_reference(VOLUME, "czyx", scale=(1, 2.5, 0.7, 0.8))
