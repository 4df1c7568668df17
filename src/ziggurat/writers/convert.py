"""Convert any volume to OME-Zarr (``.zarr``) or NIfTI (``.nii``/``.nii.gz``), chosen by the output name."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..model.image import Image
from ..sources.omezarr import VolumeMeta, write_omezarr
from ..sources.registry import open_source


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
    volume = Image(open_source(os.fspath(source)), os.fspath(source))
    volume._volume()
    meta = VolumeMeta(tuple(volume.axes), tuple(volume.scale or ()), volume.affine, dict(volume.metadata.extra))
    name = str(out).lower()
    if name.endswith((".nii", ".nii.gz")):
        from ..sources.nifti import write_nifti

        return write_nifti(volume, out, overwrite=overwrite)
    return write_omezarr(out, volume.levels[0], meta, chunks=chunks, levels=levels,
                         compression=compression, overwrite=overwrite, progress=progress)  # fmt: skip
