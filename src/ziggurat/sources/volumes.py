"""Volume formats: OME-Zarr stores (native), NIfTI, DICOM series and TIFF stacks (ingested), arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ImageNotFoundError, UnsupportedFormatError
from .omezarr import VolumeMeta, read_store
from .zarrreaders import NumpyReader, store_readers

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def kind_of(path: str | os.PathLike) -> str | None:
    """Which volume format a path is ("omezarr", "nifti", "dicom", "stack"), or None for 2-D images."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        if (p / "zarr.json").is_file() or (p / ".zattrs").is_file():
            return "omezarr"
        files = [f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")]
        if files and all(f.suffix.lower() in (".tif", ".tiff") for f in files):
            return "stack"
        if files and any(_is_dicom(f) for f in files[:8]):
            return "dicom"
        return None
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(".dcm") or (p.is_file() and _is_dicom(p)):
        return "dicom"
    return None


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def open_volume(path: str | os.PathLike, **options: object):
    """Open any supported volume (also a multi-page TIFF, as a z stack) as a :class:`Volume`."""
    from ..model.volume import Volume

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageNotFoundError(f"{path}: no such file or directory")
    kind = kind_of(path)
    if kind == "omezarr":
        info = read_store(path)
        return Volume(store_readers(path, info), info.meta, path, f"ome-zarr {info.version}")
    if kind == "nifti":
        from .nifti import open_nifti

        return open_nifti(path)
    if kind == "dicom":
        from .dicom import open_dicom

        return open_dicom(path)
    if kind == "stack" or path.lower().endswith((".tif", ".tiff")):
        from .tiffstack import open_stack

        return open_stack(path, **options)  # type: ignore[arg-type]
    raise UnsupportedFormatError(f"{path}: not a volume (OME-Zarr, NIfTI, DICOM or TIFF stack)")


def from_numpy(
    array: np.ndarray,
    meta: VolumeMeta | None = None,
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    axes: str = "",
):
    """Wrap a (z, y, x) or (c, z, y, x) array as an in-memory Volume (``axes`` e.g. "tzyx")."""
    from ..model.volume import Volume

    if meta is None:
        if array.ndim not in (3, 4):
            raise UnsupportedFormatError(f"a volume array must be 3-D or 4-D, got shape {array.shape}")
        names = tuple(axes or ("czyx" if array.ndim == 4 else "zyx"))
        sz, sy, sx = spacing
        meta = VolumeMeta(names, (1.0,) * (array.ndim - 3) + tuple(spacing), np.diag([sx, sy, sz, 1.0]))
    return Volume([NumpyReader(array)], meta, None, "array")


__all__ = ["VolumeMeta", "from_numpy", "kind_of", "open_volume"]
