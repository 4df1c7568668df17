"""DICOM whole-slide imaging (VL Whole Slide Microscopy Image Storage), frames read straight from offsets.

A slide is a series: one instance (or several, a *concatenation*) per pyramid level, plus LABEL,
OVERVIEW and THUMBNAIL instances that become associated images. pydicom parses the headers only; the
frames' byte ranges come from the encapsulated item headers (or the native frame size), so opening
reads no pixel data, and each read fetches and decodes just the frames it touches (imagecodecs:
JPEG, JPEG 2000 / HTJ2K, JPEG-LS, JPEG XL; native pixels). JPEG Baseline frames are standalone JPEG
files, copied through by the tile service (:class:`~ziggurat.sources.base.SupportsRawTiles`).

Frame order: TILED_SPARSE (or any per-frame PlanePositionSlideSequence) places each frame at its
stated position; TILED_FULL is row-major, focal planes and optical paths after. A file that says
neither (older writers) is tiled row- or column-major, whichever joins its first frames' seams best
(``frame_order="row"|"column"`` forces one). Only the first focal plane and optical path are read.
"""

from __future__ import annotations

import functools
import itertools
import os
import struct
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import imagecodecs
import numpy as np

from ..errors import (
    CorruptImageError,
    RemoteStorageError,
    UnsupportedCodecError,
    UnsupportedFormatError,
)
from ..io.files import RandomAccessFile
from ..io.listing import objects_in
from ..io.locations import is_url, parse
from ..io.opening import ByteFile, open_file, open_files
from ..io.remotefile import RemoteFile
from .base import Metadata, format_number
from .dicom import _pydicom
from .guards import ClampedFile, check_codec_header
from .tiled import DecodedOption, TiledLevel, decode_all

WSI_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"
JPEG_BASELINE = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")
IMPLICIT_LE = "1.2.840.10008.1.2"
NATIVE: dict[str, Literal["<", ">"]] = {IMPLICIT_LE: "<", "1.2.840.10008.1.2.1": "<", "1.2.840.10008.1.2.2": ">"}
DECODERS = {
    **dict.fromkeys(JPEG_BASELINE, "jpeg8"),
    **dict.fromkeys(("1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"), "ljpeg"),
    **dict.fromkeys(("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"), "jpegls"),
    **dict.fromkeys(
        ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
         "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"), "jpeg2k",
    ),
    **dict.fromkeys(("1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112"), "jpegxl"),
}  # fmt: skip
#: ImageType value 3 -> associated image name (openslide's names)
ASSOCIATED = {"LABEL": "label", "OVERVIEW": "macro", "THUMBNAIL": "thumbnail"}
ITEM, SEQUENCE_END = 0xE000FFFE, 0xE0DDFFFE  # (FFFE,E000) and (FFFE,E0DD) read as little-endian uint32
PASS_THROUGH_PHOTOMETRIC = ("YBR_FULL_422", "YBR_FULL", "MONOCHROME2", "RGB")
SEAM_FRAMES = 6  # frames decoded to tell row-major from column-major in files that do not say
#: an object without an offset table has its item headers walked in reads this large (parallel 8 MiB
#: parts, see io/remote.py): a few requests for a whole slide level, never one round trip per frame
WALK_BYTES = 64 << 20
PROBE_OBJECTS = 32  # objects of a prefix whose heads the probe fetches (in one parallel round)
FOLDER_MARKERS = ("zarr.json", ".zattrs", ".zgroup", ".zarray", "attributes.json")  # a prefix that is a store


def _header(file: ByteFile) -> tuple[Any, int] | None:
    """The dataset without pixel data and the file offset of its Pixel Data element (None: not DICOM).
    A remote object's header is parsed from its speculative first read (blocks past it if longer)."""
    pydicom = _pydicom()
    try:
        if file.size < 132 or file.read(128, 4) != b"DICM":
            return None
        source = file.open() if isinstance(file, RemoteFile) else file.path
        with ClampedFile(source) as fh, warnings.catch_warnings():  # a damaged length reads what is there
            warnings.simplefilter("ignore")  # value-length complaints (over-long UIDs) are not ours to report
            ds = pydicom.dcmread(fh, stop_before_pixels=True)
            return ds, fh.tell()
    except RemoteStorageError:
        raise
    except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError, struct.error):
        return None


def is_wsi(ds: Any) -> bool:
    return str(ds.get("SOPClassUID", "")) == WSI_SOP_CLASS


def _flavor(ds: Any) -> str:
    """VOLUME, LABEL, OVERVIEW or THUMBNAIL (value 3 of ImageType; VOLUME when absent)."""
    image_type = [str(v).upper() for v in ds.get("ImageType", [])]
    return image_type[2] if len(image_type) > 2 else "VOLUME"


@dataclass(frozen=True)
class Instance:
    """One instance file (local or remote): its header and where its pixel data starts."""

    file: ByteFile
    ds: Any
    pixel_offset: int

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def frames(self) -> int:
        return int(self.ds.get("NumberOfFrames", 1))

    @property
    def frame_offset(self) -> int:
        """Its first frame's number in its concatenation (0 when it is not part of one)."""
        return int(self.ds.get("ConcatenationFrameOffsetNumber", 0))


def scan(files: Sequence[ByteFile]) -> list[Instance]:
    """The whole-slide instances among ``files`` (the others are skipped and closed)."""
    found = []
    for file in files:
        header = _header(file)
        if header is not None and is_wsi(header[0]) and header[1] < file.size:
            found.append(Instance(file, *header))
        else:
            file.close()
    return found


@dataclass(frozen=True)
class Frame:
    """A frame's bytes: ``length`` bytes at ``offset`` in ``file``. ``items``: the span holds the frame's
    item headers and fragments (located by the Basic Offset Table alone), unwrapped once read."""

    file: ByteFile
    offset: int
    length: int
    items: bool = False


def _frame_spans(file: ByteFile, instance: Instance) -> list[tuple[int, int, bool]]:
    """Where every frame's bytes are, from the header alone when it can say: native frames by size;
    encapsulated ones by the Extended Offset Table, else by the Basic Offset Table (the span from one
    frame's first item to the next frame's), else by walking the item headers in large reads."""
    ds, start = instance.ds, instance.pixel_offset
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if struct.unpack("<HH", file.read(start, 4)) != (0x7FE0, 0x0010):
        raise CorruptImageError(f"{instance.path}: no Pixel Data where the header ends")
    n = instance.frames
    if syntax in NATIVE:
        value = start + (8 if syntax == IMPLICIT_LE else 12)
        size = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * int(ds.BitsAllocated) // 8
        return [(value + i * size, size, False) for i in range(n)]
    pos = start + 12
    if pos + 8 > file.size:
        raise CorruptImageError(f"{instance.path}: encapsulated pixel data without items")
    item, table = struct.unpack("<II", file.read(pos, 8))
    if item != ITEM:
        raise CorruptImageError(f"{instance.path}: damaged encapsulated pixel data at byte {pos}")
    first = pos + 8 + table  # offsets in the tables count from the first fragment's item tag
    extended = _extended_table(ds, n)
    if extended is not None:
        return [(first + offset + 8, length, False) for offset, length in extended]
    if table == 4 * n and n:
        offsets = [*struct.unpack(f"<{n}I", file.read(pos + 8, table)), file.size - first]
        if offsets[0] != 0 or any(b <= a for a, b in itertools.pairwise(offsets)):
            raise CorruptImageError(f"{instance.path}: the offset table is not increasing")
        return [(first + a, b - a, True) for a, b in itertools.pairwise(offsets)]
    fragments = _walk(file, first, instance.path)
    if len(fragments) != n:
        raise UnsupportedFormatError(f"{instance.path}: {len(fragments)} fragments for {n} frames, no offset table")
    return [(offset, length, False) for offset, length in fragments]


def _extended_table(ds: Any, n: int) -> list[tuple[int, int]] | None:
    """(offset, length) of each frame from the Extended Offset Table (7FE0,0001/0002), if it has one per frame."""
    if "ExtendedOffsetTable" not in ds or "ExtendedOffsetTableLengths" not in ds:
        return None
    offsets = np.frombuffer(ds.ExtendedOffsetTable, "<u8")
    lengths = np.frombuffer(ds.ExtendedOffsetTableLengths, "<u8")
    if len(offsets) != n or len(lengths) != n:
        return None
    return list(zip(offsets.tolist(), lengths.tolist()))


def _walk(file: ByteFile, pos: int, where: str) -> list[tuple[int, int]]:
    """(value offset, length) of every item from ``pos`` to the sequence end. A local file reads each
    8-byte header; a remote one reads ``WALK_BYTES`` at a time (the headers lie between the frames)."""
    window = 8 if isinstance(file, RandomAccessFile) else WALK_BYTES
    buffer, at = b"", pos
    items: list[tuple[int, int]] = []
    while pos + 8 <= file.size:
        if pos + 8 > at + len(buffer):
            buffer, at = file.read(pos, min(max(window, 8), file.size - pos)), pos
        item, length = struct.unpack_from("<II", buffer, pos - at)
        if item == SEQUENCE_END:
            break
        if item != ITEM:
            raise CorruptImageError(f"{where}: damaged encapsulated pixel data at byte {pos}")
        items.append((pos + 8, length))
        pos += 8 + length
    return items


def _unwrap(frame: Frame, data: bytes) -> bytes:
    """A frame's fragments joined, from its span of item headers and values."""
    if not frame.items:
        return data
    damaged = f"{frame.file.path}: the offset table points between fragments (byte {frame.offset})"
    parts: list[bytes] = []
    pos = 0
    while pos + 8 <= len(data):
        item, length = struct.unpack_from("<II", data, pos)
        if item == SEQUENCE_END and parts:
            break
        if item != ITEM or pos + 8 + length > len(data):
            raise CorruptImageError(damaged)
        parts.append(data[pos + 8 : pos + 8 + length])
        pos += 8 + length
    if not parts:
        raise CorruptImageError(damaged)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _read(frames: Sequence[Frame]) -> list[bytes]:
    """The frames' bytes: each file's spans in one call (one round of coalesced range GETs remotely)."""
    out: list[bytes] = [b""] * len(frames)
    by_file: dict[int, list[int]] = {}
    for k, frame in enumerate(frames):
        by_file.setdefault(id(frame.file), []).append(k)
    for members in by_file.values():
        file = frames[members[0]].file
        for k, data in zip(members, file.read_ranges([(frames[k].offset, frames[k].length) for k in members])):
            out[k] = _unwrap(frames[k], data)
    return out


class FrameLevel(TiledLevel):
    """One level: the frames of one instance (or one concatenation) on the total pixel matrix's grid."""

    def __init__(
        self, instances: list[Instance], key: Hashable, decoded: DecodedOption, frame_order: str = "auto"
    ) -> None:
        instances = sorted(instances, key=lambda i: i.frame_offset)
        ds = instances[0].ds
        self._instances = instances
        self._ds = ds
        self.path = instances[0].path
        self.syntax = str(ds.file_meta.TransferSyntaxUID)
        if self.syntax not in NATIVE and self.syntax not in DECODERS:
            raise UnsupportedCodecError(f"{self.path}: DICOM transfer syntax {self.syntax} cannot be decoded")
        samples, bits = int(ds.SamplesPerPixel), int(ds.BitsAllocated)
        if bits not in (8, 16):
            raise UnsupportedFormatError(f"{self.path}: {bits}-bit DICOM pixels are not supported")
        dtype = np.dtype(f"{'i' if int(ds.get('PixelRepresentation', 0)) else 'u'}{bits // 8}")
        height = int(ds.get("TotalPixelMatrixRows", ds.Rows))
        width = int(ds.get("TotalPixelMatrixColumns", ds.Columns))
        super().__init__((height, width, samples), dtype, (int(ds.Rows), int(ds.Columns)), key, decoded)
        th, tw = self.tile_shape
        self._grid = (-(-height // th), -(-width // tw))
        self._files = [i.file for i in instances]
        self._frame_order = frame_order
        photometric = str(ds.get("PhotometricInterpretation", ""))
        self._fill = 255 if photometric != "MONOCHROME1" and samples == 3 else 0
        self._pass_through = self.syntax in JPEG_BASELINE and photometric in PASS_THROUGH_PHOTOMETRIC

    # -- where each tile's frame is ------------------------------------------------------------
    @functools.cached_property
    def _frames(self) -> dict[tuple[int, int], Frame]:
        """Grid (row, col) -> the file and fragments of the frame stored there (found on first read)."""
        located = [Frame(i.file, *span) for i in self._instances for span in _frame_spans(i.file, i)]
        positions = self._positions(len(located))
        return {rc: frame for rc, frame in zip(positions, located) if rc is not None}

    def _positions(self, count: int) -> list[tuple[int, int] | None]:
        """The grid position of each frame in file order (None: another focal plane or optical path)."""
        th, tw = self.tile_shape
        per_frame = [g for i in self._instances for g in i.ds.get("PerFrameFunctionalGroupsSequence", [])]
        if len(per_frame) == count and all("PlanePositionSlideSequence" in g for g in per_frame):
            first_z = _plane_key(per_frame[0])
            out: list[tuple[int, int] | None] = []
            for group in per_frame:
                where = group.PlanePositionSlideSequence[0]
                row = int(where.RowPositionInTotalImagePixelMatrix) - 1
                col = int(where.ColumnPositionInTotalImagePixelMatrix) - 1
                if row % th or col % tw:
                    raise UnsupportedFormatError(f"{self.path}: frame at ({row}, {col}) is off the {th}x{tw} grid")
                out.append((row // th, col // tw) if _plane_key(group) == first_z else None)
            return out
        rows, cols = self._grid
        order = self._frame_order
        if order == "auto":
            declared = str(self._ds.get("DimensionOrganizationType", "")).upper() == "TILED_FULL"
            order = "row" if declared or count < 2 else self._seam_order(count)
        if order == "column":
            return [(k % rows, k // rows) if k < rows * cols else None for k in range(count)]
        return [(k // cols, k % cols) if k < rows * cols else None for k in range(count)]

    def _seam_order(self, count: int) -> str:
        """Row- or column-major for a file that does not say: which joins neighbouring frames better."""
        rows, cols = self._grid
        n = min(count, SEAM_FRAMES, rows * cols)
        first = self._instances[0]
        located = [Frame(first.file, *span) for span in _frame_spans(first.file, first)[:n]]
        frames = [self._decode(job).astype(np.float32) for job in zip(located, _read(located))]
        th, tw = self.tile_shape

        def seam(order: str) -> float:
            costs = []
            for k in range(n - 1):
                if order == "row" and (k + 1) % cols and cols > 1:  # frame k+1 is right of frame k
                    costs.append(np.abs(frames[k][:, tw - 1] - frames[k + 1][:, 0]).mean())
                if order == "column" and (k + 1) % rows and rows > 1:  # frame k+1 is below frame k
                    costs.append(np.abs(frames[k][th - 1] - frames[k + 1][0]).mean())
            return float(np.mean(costs)) if costs else np.inf

        return "column" if seam("column") < seam("row") else "row"

    # -- reading -------------------------------------------------------------------------------
    def _load(self, positions: list[tuple[int, int]]) -> list[np.ndarray]:
        frames = self._frames
        wanted = [frames.get(rc) for rc in positions]
        present = [f for f in wanted if f is not None]
        blobs = iter(decode_all(self._decode, list(zip(present, _read(present)))))
        th, tw = self.tile_shape
        blank = np.full((th, tw, self.shape[2]), self._fill, self.dtype)
        return [blank if f is None else next(blobs) for f in wanted]

    def _decode(self, job: tuple[Frame, bytes]) -> np.ndarray:
        frame, data = job
        th, tw = self.tile_shape
        samples = self.shape[2]
        where = f"{frame.file.path}: the frame at byte {frame.offset}"
        if self.syntax not in NATIVE:  # a header that claims more than the frame holds is refused before decoding
            check_codec_header(data, th, tw, where)
        try:
            if self.syntax in NATIVE:
                tile = np.frombuffer(data, self.dtype.newbyteorder(NATIVE[self.syntax]))
            else:
                tile = np.asarray(getattr(imagecodecs, f"{DECODERS[self.syntax]}_decode")(data))
            tile = tile.reshape(th, tw, samples)
        except Exception as exc:  # codecs raise their own types
            raise CorruptImageError(
                f"{frame.file.path}: cannot decode the frame at byte {frame.offset}: {exc}"
            ) from exc
        return np.ascontiguousarray(tile, dtype=self.dtype)

    def raw_tiles(self, positions: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """JPEG Baseline frames as stored (standalone JPEG files); None for other codecs or missing tiles."""
        if not self._pass_through:
            return None
        frames = [self._frames.get(rc) for rc in positions]
        if any(f is None for f in frames):
            return None
        return _read([f for f in frames if f is not None])

    def close(self) -> None:
        for file in self._files:
            file.close()


def _plane_key(group: Any) -> tuple[str, str]:
    """A frame's focal plane and optical path (frames of other planes/paths than the first are skipped)."""
    where = group.PlanePositionSlideSequence[0]
    z = str(where.get("ZOffsetInSlideCoordinateSystem", ""))
    path = group.OpticalPathIdentificationSequence[0] if "OpticalPathIdentificationSequence" in group else None
    return z, str(path.get("OpticalPathIdentifier", "")) if path is not None else ""


class DicomWsiSource:
    """A DICOM whole-slide series: a folder (or one of its files) of WSI instances; on object storage
    a prefix (or one of its objects), listed once, every instance's head fetched in one parallel round."""

    name = "dicomwsi"
    rank = 90  # the best score probe() gives: outranks the volume reader for slide microscopy

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        if is_url(path) and not head:  # a prefix: the first objects' heads (the open reuses them)
            urls = _prefix_objects(path)
            if not urls:
                return 0
            heads = open_files(urls[:PROBE_OBJECTS], tail_bytes=0)
            return 90 if any(_says_wsi(f.read(0, min(512, f.size))) for f in heads) else 0
        if os.path.isdir(path):
            try:
                with os.scandir(path) as entries:
                    files = sorted(e.path for e in entries if e.is_file() and not e.name.startswith("."))[:8]
            except OSError:
                return 0
            return 90 if any(_says_wsi(_head(f)) for f in files) else 0
        return 90 if _says_wsi(head) else 0

    def __init__(
        self, path: str, *, series: str | None = None, frame_order: str = "auto", decoded_cache: DecodedOption = True
    ) -> None:
        files, own_file = _remote_files(path) if is_url(path) else _local_files(Path(path))
        with warnings.catch_warnings():  # pydicom's value-length complaints as values are first converted
            warnings.simplefilter("ignore")
            instances = scan(files)
            if own_file is not None:  # one file names its series: the instances of that series beside it
                own = next((i for i in instances if i.file is own_file), None)
                if own is None:
                    raise UnsupportedFormatError(f"{path}: not a DICOM whole-slide image")
                series = series or str(own.ds.SeriesInstanceUID)
            self._load(path, instances, series, frame_order, decoded_cache)

    @classmethod
    def from_files(
        cls, path: str, files: list[Path], *, series: str | None = None, frame_order: str = "auto",
        decoded_cache: DecodedOption = True,
    ) -> DicomWsiSource:  # fmt: skip
        """The series ``series`` among ``files`` (a DICOMDIR's listing), reported under ``path``."""
        source = cls.__new__(cls)
        source._load(path, scan(open_files([str(f) for f in files])), series, frame_order, decoded_cache)
        return source

    def _load(
        self, path: str, instances: list[Instance], series: str | None, frame_order: str, decoded_cache: DecodedOption
    ) -> None:
        if frame_order not in ("auto", "row", "column"):
            raise ValueError(f"frame_order must be 'auto', 'row' or 'column', not {frame_order!r}")
        by_series: dict[str, list[Instance]] = {}
        for instance in instances:
            by_series.setdefault(str(instance.ds.get("SeriesInstanceUID", "")), []).append(instance)
        if series is None and len(by_series) > 1:
            raise UnsupportedFormatError(
                f"{path}: {len(by_series)} whole-slide series; open one with series=UID: {sorted(by_series)}"
            )
        chosen = by_series.get(series) if series is not None else next(iter(by_series.values()), None)
        if not chosen:
            raise UnsupportedFormatError(
                f"{path}: no DICOM whole-slide instances" + (f" of series {series}" if series else "")
            )
        self.path = path
        for other in instances:
            if not any(other is mine for mine in chosen):
                other.file.close()
        self.series = str(chosen[0].ds.get("SeriesInstanceUID", ""))
        identity = chosen[0].file.identity
        volumes = [i for i in chosen if _flavor(i.ds) == "VOLUME"] or [
            i for i in chosen if _flavor(i.ds) not in ASSOCIATED
        ]
        if not volumes:
            raise UnsupportedFormatError(f"{path}: the series holds no VOLUME instances")
        self.levels = [
            FrameLevel(group, (identity, self.series, i), decoded_cache, frame_order)
            for i, group in enumerate(_levels(volumes))
        ]
        self._associated = {
            ASSOCIATED[_flavor(i.ds)]: i
            for i in sorted(chosen, key=lambda i: str(i.path))
            if _flavor(i.ds) in ASSOCIATED
        }
        self.metadata = _metadata(self.levels[0]._ds, list(self._associated), self.series)

    def read_associated(self, name: str) -> np.ndarray:
        instance = self._associated[name]  # KeyError for a name the series lacks
        level = FrameLevel([instance], ("associated", self.series, name), False)
        try:
            return level.read(tuple((0, n) for n in level.shape))
        finally:
            level.close()

    def close(self) -> None:
        for level in self.levels:
            level.close()


def _local_files(root: Path) -> tuple[list[ByteFile], ByteFile | None]:
    """The files of ``root``'s folder (or of the folder it is a file of) and ``root``'s own file."""
    folder = root if root.is_dir() else root.parent
    names = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    files = open_files([str(f) for f in names])
    own = None if root.is_dir() else next((f for f, name in zip(files, names) if name == root), None)
    return files, own


def _remote_files(url: str) -> tuple[list[ByteFile], ByteFile | None]:
    """The objects of the prefix ``url`` (no own file), or the object ``url`` and those beside it:
    one listing (shared with the registry's), then every head in one parallel round (the probe's
    reads are reused). Where listing is refused, an instance URL opens that instance alone."""
    others, own = _listed(url, refused_ok=not url.endswith("/")), None
    if not others:  # not a prefix: an instance, whose series lies beside it
        own = open_file(url)  # the registry's probe opened it a moment ago: no request
        others = [u for u in _listed(url.rsplit("/", 1)[0] + "/", refused_ok=True) if u != own.path]
    return ([own] if own is not None else []) + open_files(others, tail_bytes=0), own


def _listed(url: str, *, refused_ok: bool) -> list[str]:
    """:func:`_prefix_objects`, or nothing when the listing fails and ``refused_ok`` (no List permission)."""
    try:
        return _prefix_objects(url)
    except RemoteStorageError:
        if not refused_ok:
            raise
        return []


def _prefix_objects(url: str) -> list[str]:
    """The URLs of the objects directly under ``url`` (none for a Zarr/N5 store's prefix)."""
    if parse(url).scheme != "s3":  # a web server cannot be listed
        return []
    urls = [u for u, _ in objects_in(url)]
    names = {u.rsplit("/", 1)[-1] for u in urls}
    return [] if names & set(FOLDER_MARKERS) else [u for u in urls if not u.rsplit("/", 1)[-1].startswith(".")]


def _says_wsi(head: bytes) -> bool:
    return head[128:132] == b"DICM" and WSI_SOP_CLASS.encode() in head


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(512)
    except OSError:
        return b""


def _levels(volumes: list[Instance]) -> list[list[Instance]]:
    """Instances grouped into levels by their total matrix size, largest first; a level is one instance
    or one concatenation (the first of several optical paths or focal planes stored apart)."""
    by_size: dict[tuple[int, int], list[Instance]] = {}
    for instance in volumes:
        ds = instance.ds
        size = (int(ds.get("TotalPixelMatrixRows", ds.Rows)), int(ds.get("TotalPixelMatrixColumns", ds.Columns)))
        by_size.setdefault(size, []).append(instance)
    levels = []
    for _size, group in sorted(by_size.items(), key=lambda kv: -kv[0][0] * kv[0][1]):
        group.sort(key=lambda i: (int(i.ds.get("InstanceNumber", 0) or 0), str(i.path)))
        concatenation = str(group[0].ds.get("ConcatenationUID", ""))
        levels.append([i for i in group if concatenation and str(i.ds.get("ConcatenationUID", "")) == concatenation]
                      or group[:1])  # fmt: skip
    return levels


def _metadata(ds: Any, associated: list[str], series: str) -> Metadata:
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]
    measures = shared.PixelMeasuresSequence[0] if shared is not None and "PixelMeasuresSequence" in shared else None
    mpp = None
    if measures is not None and "PixelSpacing" in measures:  # mm, (row spacing, column spacing)
        row, col = (float(v) * 1000 for v in measures.PixelSpacing)
        mpp = (col, row)
    paths = ds.get("OpticalPathSequence", [])
    power = next((float(p.ObjectiveLensPower) for p in paths if p.get("ObjectiveLensPower")), None)
    props = {
        f"dicom.{key}": str(ds.get(key))
        for key in ("Manufacturer", "ManufacturerModelName", "SeriesInstanceUID", "StudyInstanceUID",
                    "SeriesDescription", "ContainerIdentifier", "DimensionOrganizationType",
                    "PhotometricInterpretation")
        if ds.get(key) not in (None, "")
    }  # fmt: skip
    if mpp is not None:
        props["openslide.mpp-x"], props["openslide.mpp-y"] = format_number(mpp[0]), format_number(mpp[1])
    if power is not None:
        props["openslide.objective-power"] = format_number(power)
    names = [str(p.get("OpticalPathDescription") or p.get("OpticalPathIdentifier", "")) for p in paths]
    samples = int(ds.SamplesPerPixel)
    meta = Metadata.slide("dicom-wsi", mpp, objective_power=power, properties=props, associated_names=associated)
    if samples == 1 and names:
        meta.channel_names = names[:1]
    meta.extra["dicom"] = {"series_uid": series, "modality": str(ds.get("Modality", "SM"))}
    return meta
