"""Convert any volume to OME-Zarr (``.zarr``) or NIfTI (``.nii``/``.nii.gz``), chosen by the output name."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import UnsupportedFormatError
from ..io.locations import is_url
from ..model.image import Image, open_image
from ..sources.base import Metadata
from .omezarr.builder import MIN_LEVEL, SHARD_BYTES, build_pyramid
from .omezarr.ngff import CONVERT_COMPRESSION, with_spacing


def convert(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    chunks: str | Sequence[int] = "auto",
    levels: int | None = None,
    compression: str = CONVERT_COMPRESSION,
    overwrite: bool = True,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    spacing: Sequence[float] | None = None,
    unit: str | None = None,
) -> Path | str:
    """Read ``source`` (any volume ``ziggurat.open`` reads) and write it to ``out`` atomically.

    OME-Zarr: the one writer (:func:`~ziggurat.writers.omezarr.builder.build_pyramid`) with levels
    that halve y and x only (z is kept: slices stay slices) down to ~64 px, ``chunks`` a preset or
    ``(z, y, x)``, shards of whole planes up to 256 MiB, and the source's metadata (affine, NIfTI
    header, ...) in the ``ziggurat`` attribute. ``progress(done, total)`` counts source bytes read.
    """
    volume = open_image(source)
    volume.spacing  # noqa: B018 - raises AxesError unless the axes end in z y x
    name = str(out).lower()
    if name.endswith((".nii", ".nii.gz")):
        from .nifti import write_nifti

        if is_url(out):
            raise UnsupportedFormatError(
                f"{out}: NIfTI is written to local files only; write OUT.zarr to object storage"
            )

        if spacing is not None or unit is not None:
            raise UnsupportedFormatError(f"{out}: spacing and unit apply to OME-Zarr outputs (NIfTI keeps the affine)")
        return write_nifti(volume, out, overwrite=overwrite)
    return to_omezarr(volume, out, chunks=chunks, levels=levels, compression=compression, overwrite=overwrite,
                      progress=progress, workers=workers, spacing=spacing, unit=unit)  # fmt: skip


def to_omezarr(
    volume: Image,
    out: str | os.PathLike[str],
    *,
    chunks: str | Sequence[int] = "auto",
    levels: int | None = None,
    compression: str = CONVERT_COMPRESSION,
    overwrite: bool = True,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    spacing: Sequence[float] | None = None,
    unit: str | None = None,
) -> Path | str:
    """Write an open Volume as OME-Zarr the way ``convert`` does (see :func:`convert`)."""
    meta = volume.metadata
    store_meta = Metadata(meta.format, meta.axes, meta.scale, meta.units, volume.affine, extra=dict(meta.extra),
                          channel_names=list(meta.channel_names), channel_colors=list(meta.channel_colors))  # fmt: skip
    if spacing is not None or unit is not None:
        store_meta = with_spacing(store_meta, spacing, unit)
    return build_pyramid(volume, out, halve="yx", chunks=chunks, levels=levels, min_size=MIN_LEVEL,
                         compression=compression, meta=store_meta, shard_bytes=SHARD_BYTES, overwrite=overwrite,
                         progress=progress, workers=workers)  # fmt: skip
