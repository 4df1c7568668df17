"""Image stacks as volumes: a folder of 2-D grey slices (sorted by name) or one multi-page TIFF.

Reads are lazy per z range: only the slices (pages) a request touches are read — memory-mapped when
tifffile finds a slice stored uncompressed and contiguous, decoded by tifffile (TIFF) or imagecodecs
(PNG, JPEG) otherwise. Stacks have no standard voxel size, so spacing is ``spacing=(z, y, x)`` when
given, else 1 mm each (``metadata.extra["stack"]["spacing_known"]`` says which).

A folder is a stack when every visible file in it is a slice; a single multi-page TIFF opens as a
stack only when asked for (``ziggurat.open(path, backend="tiffstack")``), since slides are multi-page
TIFFs too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import tifffile

from ..errors import CorruptImageError, UnsupportedFormatError
from .base import Box, Metadata, NoAssociatedImages

TIFF_SUFFIXES = (".tif", ".tiff")
SLICE_SUFFIXES = (*TIFF_SUFFIXES, ".png", ".jpg", ".jpeg")
SLICE_ERRORS = (OSError, ValueError, IndexError, KeyError, RuntimeError, tifffile.TiffFileError)


def list_slices(folder: Path, *, only: bool = False) -> list[Path]:
    """The visible slice files of a folder, sorted by name; with ``only``, none unless every visible
    file is a slice (what the probe asks: a folder with notes beside its slices opens when asked for)."""
    try:
        names = sorted(e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith("."))
    except OSError:
        return []
    slices = [n for n in names if n.lower().endswith(SLICE_SUFFIXES)]
    return [] if only and len(slices) != len(names) else [folder / n for n in slices]


def read_slice(path: Path) -> np.ndarray:
    """One 2-D grey slice file, memory-mapped when tifffile can (an uncompressed contiguous TIFF)."""
    try:
        array: np.ndarray
        if path.suffix.lower() in TIFF_SUFFIXES:
            try:
                array = tifffile.memmap(path, mode="r")
            except ValueError:  # compressed or not contiguous
                array = np.asarray(tifffile.imread(path))
        else:
            array = np.asarray(imagecodecs.imread(str(path)))
    except SLICE_ERRORS as exc:
        raise CorruptImageError(f"{path}: unreadable slice: {exc}") from exc
    if array.ndim != 2 or array.dtype.kind not in "uif":
        raise UnsupportedFormatError(f"{path}: slices must be 2-D grey images, got {array.shape} {array.dtype}")
    return np.asarray(array)


def _plane_kind(path: Path) -> tuple[tuple[int, ...], str] | None:
    """(shape, dtype) of a 2-D grey slice file from its header, or None for anything else."""
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                if len(tif.pages) != 1 or len(page.shape) != 2 or page.dtype is None:
                    return None
                return tuple(page.shape), str(page.dtype)
        with open(path, "rb") as f:
            head = f.read(26)
    except SLICE_ERRORS:
        return None
    if len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[25] == 0:  # IHDR colour type 0: grey
        return (int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")), f"u{head[24]}"
    return ((0, 0), "jpeg") if head[:3] == b"\xff\xd8\xff" else None


class StackReader:
    """Slices of a stack, read on demand for the z range asked for."""

    def __init__(self, path: Path, files: list[Path] | None) -> None:
        self._path = path
        self._files = files
        if files:
            first = read_slice(files[0])
            plane_shape, dtype, depth = first.shape, first.dtype, len(files)
        else:
            try:
                with tifffile.TiffFile(path) as tif:
                    page = tif.pages.first
                    plane_shape, dtype, depth = page.shape, page.dtype or np.dtype("V1"), len(tif.pages)
            except SLICE_ERRORS as exc:
                raise CorruptImageError(f"{path}: not a readable TIFF stack: {exc}") from exc
        if len(plane_shape) != 2 or np.dtype(dtype).kind not in "uif":
            raise UnsupportedFormatError(f"{path}: slices must be 2-D grey images, got {plane_shape} {dtype}")
        self.shape: tuple[int, ...] = (depth, *plane_shape)
        self.dtype: np.dtype[Any] = np.dtype(dtype).newbyteorder("=")
        self.chunks: tuple[int, ...] = (1, *plane_shape)

    def plane(self, z: int) -> np.ndarray:
        """Slice ``z`` whole, not copied (a read-only memory map where possible: nothing is read
        until it is used)."""
        if self._files is not None:
            plane = read_slice(self._files[z])
        else:
            try:
                plane = tifffile.imread(self._path, key=z)
            except SLICE_ERRORS as exc:
                raise CorruptImageError(f"{self._path}: cannot read slice {z}: {exc}") from exc
        if plane.shape != self.shape[1:] or plane.dtype != self.dtype:
            name = self._files[z].name if self._files is not None else f"page {z}"
            raise CorruptImageError(
                f"{self._path}: slice {name} is {plane.shape} {plane.dtype}, the first is {self.shape[1:]} {self.dtype}"
            )
        return plane

    def read(self, box: Box) -> np.ndarray:
        (z0, z1), (y0, y1), (x0, x1) = box
        out = np.empty((z1 - z0, y1 - y0, x1 - x0), self.dtype)
        for i, z in enumerate(range(z0, z1)):
            out[i] = self.plane(z)[y0:y1, x0:x1]
        return out


class TiffStackSource(NoAssociatedImages):
    """A folder of slices, or (when asked for) one multi-page TIFF, as a (z, y, x) volume."""

    name = "tiffstack"
    rank = 40  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        if not os.path.isdir(path):
            return 0
        files = list_slices(Path(path), only=True)
        # a folder of slides is not a stack: its first and last files must be alike 2-D grey slices
        if len(files) < 2 or (plane := _plane_kind(files[0])) is None or plane != _plane_kind(files[-1]):
            return 0
        return 40

    def __init__(self, path: str, *, spacing: Sequence[float] | None = None) -> None:
        root = Path(path)
        files = None
        if root.is_dir():
            files = list_slices(root)
            if not files:
                raise UnsupportedFormatError(f"{path}: no .tif/.png/.jpg slices in this folder")
        self.reader = StackReader(root, files)
        sz, sy, sx = (float(s) for s in spacing) if spacing else (1.0, 1.0, 1.0)
        self.levels = [self.reader]
        self.metadata = Metadata.volume(
            "tiff-stack", "zyx", (sz, sy, sx), extra={"stack": {"spacing_known": bool(spacing)}}
        )

    def close(self) -> None:
        pass
