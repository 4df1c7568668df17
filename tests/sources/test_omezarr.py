"""The omezarr backend against zarr-python: a store written by ``ziggurat convert`` (NGFF 0.5, sharded)
and stores written by zarr-python itself (NGFF 0.4 on Zarr v2, a 2-D NGFF 0.5 multiscale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr

from ziggurat.testing.sources import SourceTests, omezarr_reference
from ziggurat.writers.convert import convert


def ngff(axes: str, scales: list[list[float]], version: str | None) -> dict[str, Any]:
    units = {"z": "micrometer", "y": "micrometer", "x": "micrometer"}
    multiscale: dict[str, Any] = {
        "axes": [
            {"name": a, "type": "channel" if a == "c" else "space", **({"unit": units[a]} if a in units else {})}
            for a in axes
        ],
        "datasets": [
            {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": s}]} for i, s in enumerate(scales)
        ],
    }
    if version == "0.4":
        multiscale["version"] = "0.4"
        return {"multiscales": [multiscale]}
    return {"ome": {"version": "0.5", "multiscales": [multiscale]}}


def write_store(path: Path, levels: list[np.ndarray], axes: str, zarr_format: int, chunks: tuple[int, ...]) -> Path:
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    for i, level in enumerate(levels):
        array = root.create_array(str(i), shape=level.shape, dtype=level.dtype, chunks=chunks)
        array[...] = level
    steps = [[1.0 if a == "c" else 0.5 * 2**i if a in "yx" else 2.0 for a in axes] for i in range(len(levels))]
    root.attrs.update(ngff(axes, steps, "0.4" if zarr_format == 2 else "0.5"))
    return path


def volume(shape: tuple[int, ...], dtype: str = "uint16") -> np.ndarray:
    return np.random.default_rng(6).integers(0, 4000, shape).astype(dtype)


class TestConverted(SourceTests):
    """``convert`` of a slice folder: NGFF 0.5, Zarr v3 shards of blosc chunks, two levels."""

    backend = "omezarr"

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("omezarr") / "slices"
        folder.mkdir()
        for i, plane in enumerate(volume((10, 140, 150))):
            tifffile.imwrite(folder / f"s{i:03d}.tif", plane)
        return convert(folder, folder.parent / "converted.zarr", chunks=(4, 32, 32))

    read_reference = staticmethod(omezarr_reference)


class TestZarrPythonStores(SourceTests):
    """Stores zarr-python writes: NGFF 0.4 on Zarr v2 (czyx), NGFF 0.5 on Zarr v3 (cyx, 2-D)."""

    backend = "omezarr"
    read_reference = staticmethod(omezarr_reference)

    @pytest.fixture(scope="class", params=["v2-czyx", "v3-cyx"])
    @classmethod
    def path(cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp("omezarr") / f"{request.param}.zarr"
        if request.param == "v2-czyx":
            base = volume((2, 9, 60, 70), "float32")
            return write_store(path, [base, base[..., ::2, ::2]], "czyx", 2, (1, 4, 16, 16))
        base = volume((3, 90, 100), "uint8")
        return write_store(path, [base, base[:, ::2, ::2], base[:, ::4, ::4]], "cyx", 3, (1, 32, 32))
