"""Guards that keep any input's cost bounded and its failures typed, shared by every source.

- :func:`budget` / :func:`max_bytes`: the byte budget of one read (``ZIGGURAT_MAX_BYTES``, default
  4 GiB); :func:`check_allocation` raises :class:`~ziggurat.errors.ResourceLimitError` before a
  larger array is allocated.
- :func:`check_codec_header`: a compressed tile's own header (JPEG SOF, JPEG 2000 SIZ, PNG IHDR)
  must not claim more pixels than the tile it fills — a 1 KB tile claiming 65,500 x 65,500 would
  make the codec allocate 12 GiB before failing.
- :func:`check_ifd_chain`: a TIFF whose IFD chain loops is refused (tifffile would walk it forever).
- :func:`typed_errors`: third-party exceptions (IndexError, struct.error, zlib.error, nibabel's
  HeaderDataError, pydicom's errors, ...) become :class:`~ziggurat.errors.CorruptImageError`
  naming the file and where, at the source boundary (the registry's open, the level read path).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import CorruptImageError, ResourceLimitError, ZigguratError

DEFAULT_MAX_BYTES = 4 << 30
#: deflate cannot expand more than about 1032:1, so a gzip file of n bytes holds at most this * n
GZIP_MAX_RATIO = 1032
MAX_IFDS = 1 << 20
_override: list[int] = []


def max_bytes() -> int:
    """The byte budget of one read: the innermost :func:`budget`, else ``ZIGGURAT_MAX_BYTES``."""
    if _override:
        return _override[-1]
    text = os.environ.get("ZIGGURAT_MAX_BYTES")
    if text:
        from ..io.sizes import parse_size

        return parse_size(text)
    return DEFAULT_MAX_BYTES


@contextlib.contextmanager
def budget(nbytes: int) -> Iterator[None]:
    """Reads inside the block may allocate at most ``nbytes`` each (a typed error beyond)."""
    _override.append(int(nbytes))
    try:
        yield
    finally:
        _override.pop()


def check_allocation(nbytes: int, what: str) -> None:
    """ResourceLimitError when ``nbytes`` is over the budget (before anything is allocated)."""
    limit = max_bytes()
    if nbytes > limit:
        raise ResourceLimitError(f"{what} needs {nbytes:,} bytes, over the budget of {limit:,} (ZIGGURAT_MAX_BYTES)")


def codec_dimensions(data: bytes) -> tuple[int, int] | None:
    """(height, width) a JPEG, JPEG 2000 codestream/JP2 or PNG header claims, or None if not one."""
    if data[:2] == b"\xff\xd8":
        return _jpeg_dimensions(data)
    at = data.find(b"\xff\x4f\xff\x51", 0, 4096)  # J2K codestream: SOC then SIZ (also inside a JP2 box)
    if at >= 0 and len(data) >= at + 20:
        xsiz, ysiz, xo, yo = struct.unpack(">IIII", data[at + 8 : at + 24]) if len(data) >= at + 24 else (0, 0, 0, 0)
        return max(0, ysiz - yo), max(0, xsiz - xo)
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return height, width
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """The frame size of the first SOF segment, walking the marker segments."""
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if pos + 9 > end:
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return height, width
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def check_codec_header(data: bytes, height: int, width: int, where: str) -> None:
    """CorruptImageError when the compressed tile's header claims more than ``height`` x ``width``
    (a JPEG height of 0 — the size given later by a DNL marker — is not checked)."""
    claimed = codec_dimensions(data)
    if claimed is None:
        return
    ch, cw = claimed
    if ch > height or cw > width:
        raise CorruptImageError(
            f"{where}: its codec header claims {cw} x {ch} pixels, the tile holds {width} x {height}"
        )


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def chunk_decoded_size(codec: str, data: bytes) -> int | None:
    """The decoded size a compressed chunk's own header claims: a zstd frame's content size, a
    blosc header's byte count; None when the header says nothing (or for other codecs)."""
    if codec == "zstd" and data[:4] == ZSTD_MAGIC and len(data) >= 6:
        descriptor = data[4]
        single, flag = bool(descriptor & 0x20), descriptor >> 6
        start = 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
        size = (1 if single else 0, 2, 4, 8)[flag]
        if not size or len(data) < start + size:
            return None
        value = int.from_bytes(data[start : start + size], "little")
        return value + 256 if size == 2 else value
    if codec == "blosc" and len(data) >= 16:  # blosc: version, versionlz, flags, typesize, nbytes
        return int(struct.unpack("<I", data[4:8])[0])
    return None


def check_ifd_chain(path: str) -> None:
    """CorruptImageError when the TIFF's chain of IFDs loops back (or runs past ``MAX_IFDS``)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            return
        order = "<" if head[:2] == b"II" else ">"
        (version,) = struct.unpack(order + "H", head[2:4])
        big = version == 43
        if big:
            if len(head) < 16:
                return
            (offset,) = struct.unpack(order + "Q", head[8:16])
            count_fmt, count_size, entry, pointer = "Q", 8, 20, "Q"
        else:
            (offset,) = struct.unpack(order + "I", head[4:8])
            count_fmt, count_size, entry, pointer = "H", 2, 12, "I"
        size = os.fstat(fh.fileno()).st_size
        seen: set[int] = set()
        while offset and offset < size:
            if offset in seen:
                raise CorruptImageError(f"{path}: the TIFF's IFD chain loops back to offset {offset}")
            if len(seen) >= MAX_IFDS:
                raise CorruptImageError(f"{path}: more than {MAX_IFDS:,} IFDs")
            seen.add(offset)
            fh.seek(offset)
            raw = fh.read(count_size)
            if len(raw) < count_size:
                return
            (count,) = struct.unpack(order + count_fmt, raw)
            fh.seek(offset + count_size + count * entry)
            raw = fh.read(struct.calcsize(pointer))
            if len(raw) < struct.calcsize(pointer):
                return
            (offset,) = struct.unpack(order + pointer, raw)


@contextlib.contextmanager
def typed_errors(path: str | None, where: str = "") -> Iterator[None]:
    """Turn any non-ziggurat exception from reading ``path`` into a CorruptImageError naming it
    (a MemoryError into a ResourceLimitError); the original stays chained as ``__cause__``."""
    try:
        yield
    except ZigguratError:
        raise
    except MemoryError as exc:
        raise ResourceLimitError(f"{path or 'image'}{where}: out of memory ({exc or 'allocation failed'})") from exc
    except Exception as exc:
        raise CorruptImageError(
            f"{path or 'image'}{where}: damaged or unreadable ({type(exc).__name__}: {exc})"
        ) from exc


def check_tiff_segments(read: Callable[[int, int], bytes], page: Any, where: str) -> None:
    """Every compressed segment of a TIFF page (tifffile's) claims no more than its tile or strip:
    call before letting tifffile decode a whole page (associated images); ``read(offset, n)``."""
    key = page.keyframe  # a TiffFrame has offsets of its own, the geometry of its keyframe
    if key.compression == 1:
        return
    if key.is_tiled:
        height, width = key.tilelength, key.tilewidth
    else:
        height, width = min(key.rowsperstrip, key.imagelength), key.imagewidth
    for offset, count in zip(page.dataoffsets, page.databytecounts):
        if count:
            check_codec_header(read(int(offset), min(int(count), 4096)), height, width, where)


class ClampedFile(io.BufferedReader):
    """A file whose ``read(n)`` never asks for more than what is left: a damaged length field
    claiming 4 GB makes a parser (pydicom) allocate what the file holds, not what it claims."""

    def __init__(self, source: str | os.PathLike[str] | io.RawIOBase) -> None:
        raw = source if isinstance(source, io.RawIOBase) else io.FileIO(source, "rb")  # a remote object's reader
        super().__init__(raw)
        self._size = raw.seek(0, io.SEEK_END)
        raw.seek(0)

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            size = max(0, min(size, self._size - self.tell()))
        return super().read(size)


def check_dicom_frames(ds: Any, where: str) -> None:
    """Before pydicom decodes pixel data: the whole array fits the budget, and every compressed
    frame's codec header claims no more than Rows x Columns."""
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples, bits = int(ds.get("SamplesPerPixel", 1) or 1), int(ds.get("BitsAllocated", 8) or 8)
    check_allocation(rows * cols * frames * samples * max(1, bits // 8), f"{where}: pixel data")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None or not syntax.is_compressed or "PixelData" not in ds:
        return
    from pydicom.encaps import generate_fragments

    for fragment in generate_fragments(ds.PixelData):
        check_codec_header(bytes(fragment[:4096]), rows, cols, f"{where}: a frame")
