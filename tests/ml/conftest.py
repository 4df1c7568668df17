"""Generated volumes and slides for the ML loader tests (small: every test is fast on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import ziggurat
from ziggurat.testing.phantom import mri_volume


@pytest.fixture(scope="session")
def volumes() -> list[np.ndarray]:
    """Three MRI-like float32 volumes of different shapes."""
    return [mri_volume(shape, seed=k) for k, shape in enumerate([(40, 48, 56), (36, 52, 44), (30, 40, 40)])]


@pytest.fixture(scope="session")
def zarr_volume(volumes: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first volume written as OME-Zarr with 16^3 chunks (patches cross chunk borders)."""
    from ziggurat.writers.convert import to_omezarr

    out = tmp_path_factory.mktemp("ml") / "vol.zarr"
    to_omezarr(ziggurat.from_array(volumes[0], axes="zyx"), out, chunks=(16, 16, 16))
    return out
