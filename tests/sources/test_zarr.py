"""The zarr backend (bare arrays) against zarr-python: Zarr v3 with and without dimension names, Zarr v2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from ziggurat.testing.sources import Reference, SourceTests, zarr_reference

# name: (zarr_format, shape, chunks, dtype, dimension names, axes ziggurat names them)
ARRAYS = {
    "v3-zyx-named": (3, (9, 50, 60), (4, 16, 16), "uint16", ["z", "y", "x"], "zyx"),
    "v3-tczyx": (3, (2, 3, 4, 20, 30), (1, 1, 2, 8, 8), "int16", None, "tczyx"),
    "v2-yx": (2, (70, 90), (32, 32), "float32", None, "yx"),
}


class TestZarrArrays(SourceTests):
    backend = "zarr"

    @pytest.fixture(scope="class", params=sorted(ARRAYS))
    @classmethod
    def path(cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
        zarr_format, shape, chunks, dtype, names, _ = ARRAYS[request.param]
        path = tmp_path_factory.mktemp("zarr") / f"{request.param}.zarr"
        extra = {"dimension_names": names} if names else {}
        array = zarr.create_array(path, shape=shape, chunks=chunks, dtype=dtype, zarr_format=zarr_format, **extra)
        array[...] = np.random.default_rng(7).integers(-100, 3000, shape).astype(dtype)
        return path

    @classmethod
    def read_reference(cls, path: Path) -> Reference:
        return zarr_reference(path, ARRAYS[path.stem][-1])
