"""Convert any volume to OME-Zarr (``.zarr``) or NIfTI (``.nii``/``.nii.gz``), chosen by the output name."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..sources.volumes import open_volume
from ..sources.omezarr import write_omezarr


def convert(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    chunks: str | Sequence[int] = "auto",
    levels: int | None = None,
    compression: str = "lz4hc",
    overwrite: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Read ``source`` (any volume ``open_volume`` reads) and write it to ``out`` atomically."""
    volume = open_volume(source)
    name = str(out).lower()
    if name.endswith((".nii", ".nii.gz")):
        from ..sources.nifti import write_nifti

        return write_nifti(volume, out, overwrite=overwrite)
    return write_omezarr(out, volume.levels[0], volume.meta, chunks=chunks, levels=levels,
                         compression=compression, overwrite=overwrite, progress=progress)  # fmt: skip
