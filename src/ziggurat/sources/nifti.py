"""NIfTI-1/2 volumes through nibabel: lazy reads (export back to NIfTI: :mod:`ziggurat.writers.nifti`).

Axis mapping: NIfTI voxel axes (i, j, k[, t]) become the volume's [t,] z, y, x with z=k, y=j, x=i
(the array is the NIfTI array transposed), and ``affine`` stays the NIfTI affine. The original
header is kept verbatim (base64 of its binary block) so export rebuilds it byte for byte.
"""

from __future__ import annotations

import base64
import gzip
import os
from collections.abc import Sequence

import numpy as np

from ..errors import BackendUnavailableError, CorruptImageError, UnsupportedFormatError
from .omezarr import VolumeMeta


def _nibabel():
    try:
        import nibabel
    except ImportError as exc:
        raise BackendUnavailableError("NIfTI needs nibabel: pip install 'ziggurat[volumes]'") from exc
    return nibabel


class NiftiReader:
    """Reads boxes of a NIfTI file through nibabel's array proxy (scaling applied, native byte order)."""

    def __init__(self, path: str, proxy) -> None:
        self._path = path
        self._proxy = proxy
        self.shape = tuple(reversed(proxy.shape))
        probe = np.asarray(proxy[(slice(0, 1),) * len(proxy.shape)])
        self.dtype = probe.dtype.newbyteorder("=")
        self.chunk_shape = self.shape

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        key = tuple(slice(a, b) for a, b in reversed(box))
        try:
            block = np.asarray(self._proxy[key])
        except (OSError, EOFError, ValueError, gzip.BadGzipFile) as exc:
            raise CorruptImageError(f"{self._path}: cannot read voxels: {exc}") from exc
        return np.ascontiguousarray(block.T, dtype=self.dtype)


def nifti_meta(image) -> VolumeMeta:
    """Axes, spacing (z, y, x mm; t as stored), affine and verbatim header of a nibabel image."""
    ndim = len(image.shape)
    if ndim not in (3, 4):
        raise UnsupportedFormatError(f"NIfTI with {ndim} dimensions: only 3-D and 4-D are supported")
    zooms = [float(z) for z in image.header.get_zooms()]
    spacing = tuple(reversed(zooms[:ndim]))
    header = {
        "version": 2 if image.header.sizeof_hdr == 540 else 1,
        "header": base64.b64encode(image.header.binaryblock).decode("ascii"),
    }
    axes = ("t", "z", "y", "x") if ndim == 4 else ("z", "y", "x")
    return VolumeMeta(axes, spacing, np.asarray(image.affine, dtype=np.float64), {"nifti": header})


def open_nifti(path: str | os.PathLike):
    """Open a ``.nii``/``.nii.gz`` lazily as a Volume."""
    from ..model.volume import Volume

    nib = _nibabel()
    path = os.fspath(path)
    try:
        image = nib.load(path)
        reader = NiftiReader(path, image.dataobj)
    except (OSError, EOFError, ValueError, gzip.BadGzipFile, nib.filebasedimages.ImageFileError) as exc:
        raise CorruptImageError(f"{path}: not a readable NIfTI file: {exc}") from exc
    return Volume([reader], nifti_meta(image), path, "nifti")
