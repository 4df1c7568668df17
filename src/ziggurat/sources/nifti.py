"""NIfTI-1/2 volumes through nibabel: lazy reads (export back to NIfTI: :mod:`ziggurat.writers.nifti`).

Axis mapping: NIfTI voxel axes (i, j, k[, t]) become the volume's [t,] z, y, x with z=k, y=j, x=i
(the array is the NIfTI array transposed), and ``affine`` stays the NIfTI affine. The original
header is kept verbatim (base64 of its binary block) so export rebuilds it byte for byte.
"""

from __future__ import annotations

import base64
import gzip
import math
import os
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, CorruptImageError, UnsupportedFormatError
from .base import Box, Metadata, NoAssociatedImages
from .guards import GZIP_MAX_RATIO, check_allocation

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError as exc:
        raise BackendUnavailableError("NIfTI needs nibabel: pip install 'ziggurat[volumes]'") from exc
    return nibabel


class NiftiReader:
    """Reads boxes of a NIfTI file through nibabel's array proxy (scaling applied, native byte order)."""

    def __init__(self, path: str, proxy: Any) -> None:
        self._path = path
        self._proxy = proxy
        self.shape: tuple[int, ...] = tuple(reversed(proxy.shape))
        self._gzipped = path.lower().endswith(".gz")
        _check_size(path, self.shape, proxy)
        probe = np.asarray(proxy[(slice(0, 1),) * len(proxy.shape)])
        self.dtype: np.dtype[Any] = probe.dtype.newbyteorder("=")
        self.chunks: tuple[int, ...] = self.shape

    def read(self, box: Box) -> np.ndarray:
        if any(a == b for a, b in box):  # nibabel's proxy cannot read an empty slice
            return np.empty(tuple(b - a for a, b in box), self.dtype)
        key = tuple(slice(a, b) for a, b in reversed(box))
        if self._gzipped:  # nibabel inflates the stream up to the last voxel the box needs
            last = np.ravel_multi_index(tuple(b - 1 for a, b in reversed(box)), self._proxy.shape, order="F")
            check_allocation((int(last) + 1) * self.dtype.itemsize, f"{self._path}: inflating voxels of box {box}")
        try:
            block = np.asarray(self._proxy[key])
        except (OSError, EOFError, ValueError, gzip.BadGzipFile) as exc:
            raise CorruptImageError(f"{self._path}: cannot read voxels: {exc}") from exc
        return np.array(block.T, dtype=self.dtype, order="C")  # a copy: nibabel may hand out read-only arrays


def _check_size(path: str, shape: tuple[int, ...], proxy: Any) -> None:
    """Refuse a header that claims more voxels than the file can hold, before any read: an
    uncompressed file must be as long as its voxels, a gzip file cannot inflate past ~1032:1."""
    if not shape or min(shape) < 1:
        raise CorruptImageError(f"{path}: NIfTI dimensions {shape} (a dimension is zero or negative)")
    itemsize = np.dtype(proxy.dtype).itemsize
    needed = math.prod(shape) * itemsize + int(proxy.offset)
    size = os.path.getsize(path)
    if path.lower().endswith(".gz"):
        if needed > size * GZIP_MAX_RATIO:
            raise CorruptImageError(f"{path}: the header claims {needed:,} bytes of voxels, more than a "
                                    f"{size:,}-byte gzip file can hold")  # fmt: skip
    elif needed > size:
        raise CorruptImageError(f"{path}: the header claims {needed:,} bytes of voxels, the file has {size:,}")


def nifti_meta(image: Any) -> Metadata:
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
    axes = "tzyx" if ndim == 4 else "zyx"
    affine = np.asarray(image.affine, dtype=np.float64)
    return Metadata.volume("nifti", axes, spacing, affine, extra={"nifti": header})


class NiftiSource(NoAssociatedImages):
    """A ``.nii``/``.nii.gz`` file (NIfTI-1 or -2), read lazily through nibabel."""

    name = "nifti"
    rank = 80  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        name = path.lower()
        if name.endswith(NIFTI_SUFFIXES):
            return 80
        # an uncompressed .nii without the suffix: NIfTI-1 (348) or NIfTI-2 (540) header size and magic
        sizes = {head[:4], head[:4][::-1]}
        return (
            60
            if (b"\x00\x00\x01\x5c" in sizes and head[344:347] == b"n+1")
            or (b"\x00\x00\x02\x1c" in sizes and head[4:7] == b"n+2")
            else 0
        )

    def __init__(self, path: str) -> None:
        nib = _nibabel()
        try:
            image = nib.load(path, mmap=False)  # no memory map: a file truncated while open must not SIGBUS
            reader = NiftiReader(path, image.dataobj)
        except CorruptImageError:
            raise
        except (OSError, EOFError, ValueError, gzip.BadGzipFile, nib.filebasedimages.ImageFileError) as exc:
            raise CorruptImageError(f"{path}: not a readable NIfTI file: {exc}") from exc
        self.metadata = nifti_meta(image)
        self.levels = [reader]

    def close(self) -> None:
        pass
