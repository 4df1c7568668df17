"""Image stacks as volumes: a folder of 2-D grey slices (sorted by name) or one multi-page TIFF.

Reads are lazy per z range: only the slices (pages) a request touches are read — only the rows and
columns asked for, with ``pread``, when a slice is stored uncompressed and contiguous (never memory-
mapped: a slice rewritten while open must not SIGBUS), decoded by tifffile (TIFF) or imagecodecs
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
from ..io.files import RandomAccessFile
from .base import Box, Metadata, NoAssociatedImages
from .contiguous import ContiguousArray

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


Layout = tuple[int, tuple[int, ...], np.dtype[Any]]  # an uncompressed slice's offset, shape, stored dtype


def slice_layout(path: Path) -> Layout | None:
    """Where an uncompressed contiguous single-image TIFF keeps its pixels, or None (compressed, PNG, ...)."""
    if path.suffix.lower() not in TIFF_SUFFIXES:
        return None
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            plain = page.compression == 1 and page.predictor == 1 and page.fillorder == 1
            if not plain or not page.is_contiguous or page.bitspersample % 8 or page.dtype is None:
                return None
            return int(page.dataoffsets[0]), tuple(page.shape), np.dtype(page.dtype).newbyteorder(tif.byteorder)
    except SLICE_ERRORS as exc:
        raise CorruptImageError(f"{path}: unreadable slice: {exc}") from exc


def read_slice(
    path: Path, layout: Layout | None = None, box: Box | None = None, into: np.ndarray | None = None
) -> np.ndarray:
    """One 2-D grey slice file (its ``box`` of rows and columns), read with ``pread`` when ``layout``
    says it is uncompressed (never a memory map: a slice rewritten while open must not SIGBUS),
    straight ``into`` an array of the box's shape when given and uncompressed."""
    try:
        array: np.ndarray
        if layout is not None:
            offset, shape, stored = layout
            file = RandomAccessFile(str(path))
            try:
                return ContiguousArray(file, offset, shape, stored).read(box or tuple((0, n) for n in shape), into)
            finally:
                file.close()
        if path.suffix.lower() in TIFF_SUFFIXES:
            array = np.asarray(tifffile.imread(path))
        else:
            array = np.asarray(imagecodecs.imread(str(path)))
    except SLICE_ERRORS as exc:
        raise CorruptImageError(f"{path}: unreadable slice: {exc}") from exc
    if array.ndim != 2 or array.dtype.kind not in "uif":
        raise UnsupportedFormatError(f"{path}: slices must be 2-D grey images, got {array.shape} {array.dtype}")
    return crop(array, box)


def crop(plane: np.ndarray, box: Box | None) -> np.ndarray:
    """``plane``'s box of rows and columns (all of it for None)."""
    return plane if box is None else plane[box[0][0] : box[0][1], box[1][0] : box[1][1]]


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
        self._layouts: dict[Path, tuple[tuple[int, int], Layout | None]] = {}  # by (mtime, size)
        if files:
            first = read_slice(files[0], slice_layout(files[0]))
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

    def _layout(self, path: Path) -> Layout | None:
        """A slice file's layout, parsed again only when its modification time or size changed."""
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise CorruptImageError(f"{path}: unreadable slice: {exc}") from exc
        key = (stat.st_mtime_ns, stat.st_size)
        known = self._layouts.get(path)
        if known is None or known[0] != key:
            known = self._layouts[path] = (key, slice_layout(path))
        return known[1]

    def plane(self, z: int, box: Box | None = None, into: np.ndarray | None = None) -> np.ndarray:
        """Slice ``z`` (its ``box`` of rows and columns), checked against the first slice; read
        straight ``into`` an array of the box's shape where the slice is uncompressed."""
        if self._files is None:
            try:
                whole = np.asarray(tifffile.imread(self._path, key=z))
            except SLICE_ERRORS as exc:
                raise CorruptImageError(f"{self._path}: cannot read slice {z}: {exc}") from exc
            self._check(f"page {z}", whole.shape, whole.dtype)
            return crop(whole, box)
        path = self._files[z]
        layout = self._layout(path)
        if layout is None:
            whole = read_slice(path)
            self._check(path.name, whole.shape, whole.dtype)
            return crop(whole, box)
        self._check(path.name, layout[1], layout[2])
        return read_slice(path, layout, box, into)

    def _check(self, name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        if shape != self.shape[1:] or np.dtype(dtype).newbyteorder("=") != self.dtype:
            raise CorruptImageError(
                f"{self._path}: slice {name} is {shape} {dtype}, the first is {self.shape[1:]} {self.dtype}"
            )

    def read(self, box: Box) -> np.ndarray:
        (z0, z1), rows, cols = box
        out = np.empty((z1 - z0, rows[1] - rows[0], cols[1] - cols[0]), self.dtype)
        for i, z in enumerate(range(z0, z1)):
            target = out[i]
            if (plane := self.plane(z, (rows, cols), target)) is not target:  # decoded, not read into
                target[...] = plane
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
