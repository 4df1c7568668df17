"""Volumes out to NIfTI-1 (``.nii``/``.nii.gz``) through nibabel: exact export of what came from NIfTI.

A volume that came from NIfTI carries its original header verbatim (``meta.extra["nifti"]``, base64
of the binary block, see :mod:`ziggurat.sources.nifti`); export rebuilds it byte for byte.
"""

from __future__ import annotations

import base64
import gzip
import os
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError
from ..io.atomic import atomic_path


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError as exc:
        raise BackendUnavailableError("NIfTI needs nibabel: pip install 'ziggurat[volumes]'") from exc
    return nibabel


def write_nifti(volume: Any, out: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Export a Volume as NIfTI (gzipped when ``out`` ends in .gz); atomic.

    A volume that came from NIfTI gets its original header back; others get sform = qform = affine.
    """
    nib = _nibabel()
    data = volume.to_numpy().T
    saved = volume.metadata.extra.get("nifti")
    if saved:
        raw = base64.b64decode(saved["header"])
        header_class = nib.Nifti2Header if saved.get("version") == 2 else nib.Nifti1Header
        image_class = nib.Nifti2Image if saved.get("version") == 2 else nib.Nifti1Image
        header = header_class(binaryblock=raw)
        image = image_class(data, header.get_best_affine(), header=header)
    else:
        image = nib.Nifti1Image(data, volume.affine)
        image.set_sform(volume.affine, code=1)
        image.set_qform(volume.affine, code=1)
        image.header.set_zooms(tuple(reversed(volume.metadata.scale or ())))
    payload = image.to_bytes()
    if str(out).endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    with atomic_path(out, overwrite=overwrite) as tmp:
        Path(tmp).write_bytes(payload)
    return Path(out)
