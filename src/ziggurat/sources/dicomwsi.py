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

from ..errors import CorruptImageError, UnsupportedCodecError, UnsupportedFormatError
from ..io.files import RandomAccessFile
from .base import Metadata, format_number
from .dicom import _pydicom, is_dicom
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


def _header(path: Path) -> tuple[Any, int] | None:
    """The dataset without pixel data and the file offset of its Pixel Data element (None: not DICOM)."""
    pydicom = _pydicom()
    try:
        with ClampedFile(path) as fh, warnings.catch_warnings():  # a damaged length reads what is there
            warnings.simplefilter("ignore")  # value-length complaints (over-long UIDs) are not ours to report
            ds = pydicom.dcmread(fh, stop_before_pixels=True)
            return ds, fh.tell()
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
    """One instance file: its header and where its pixel data starts."""

    path: Path
    ds: Any
    pixel_offset: int

    @property
    def frames(self) -> int:
        return int(self.ds.get("NumberOfFrames", 1))

    @property
    def frame_offset(self) -> int:
        """Its first frame's number in its concatenation (0 when it is not part of one)."""
        return int(self.ds.get("ConcatenationFrameOffsetNumber", 0))


def scan(paths: Sequence[Path]) -> list[Instance]:
    """The whole-slide instances among ``paths`` (other files are skipped)."""
    found = []
    for path in paths:
        header = _header(path) if is_dicom(path) else None
        if header is not None and is_wsi(header[0]) and header[1] < os.path.getsize(path):
            found.append(Instance(path, *header))
    return found


#: a frame's bytes: the (offset, length) of each of its fragments (one for most files)
Fragments = tuple[tuple[int, int], ...]


def _frame_ranges(file: RandomAccessFile, instance: Instance) -> list[Fragments]:
    """Where every frame's bytes are in the file: native frames by size, encapsulated ones from the
    item headers (one fragment per frame, or fragments grouped by the Basic Offset Table)."""
    ds, start = instance.ds, instance.pixel_offset
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if struct.unpack("<HH", file.read(start, 4)) != (0x7FE0, 0x0010):
        raise CorruptImageError(f"{instance.path}: no Pixel Data where the header ends")
    n = instance.frames
    if syntax in NATIVE:
        value = start + (8 if syntax == IMPLICIT_LE else 12)
        size = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * int(ds.BitsAllocated) // 8
        return [((value + i * size, size),) for i in range(n)]
    pos = start + 12
    items: list[tuple[int, int]] = []  # (value offset, length) of the offset table and each fragment
    while pos + 8 <= file.size:
        item, length = struct.unpack("<II", file.read(pos, 8))
        if item == SEQUENCE_END:
            break
        if item != ITEM:
            raise CorruptImageError(f"{instance.path}: damaged encapsulated pixel data at byte {pos}")
        items.append((pos + 8, length))
        pos += 8 + length
    if not items:
        raise CorruptImageError(f"{instance.path}: encapsulated pixel data without items")
    table, fragments = items[0], items[1:]
    if len(fragments) == n:
        return [(f,) for f in fragments]
    if table[1] != 4 * n:
        raise UnsupportedFormatError(f"{instance.path}: {len(fragments)} fragments for {n} frames, no offset table")
    first = fragments[0][0] - 8  # offsets in the table count from the first fragment's item tag
    index = {offset - 8 - first: i for i, (offset, _) in enumerate(fragments)}
    try:
        bounds = [index[s] for s in struct.unpack(f"<{n}I", file.read(*table))] + [len(fragments)]
    except KeyError as exc:
        raise CorruptImageError(f"{instance.path}: the offset table points between fragments") from exc
    return [tuple(fragments[a:b]) for a, b in itertools.pairwise(bounds)]


#: a frame: the file it is in and its fragments
Frame = tuple[RandomAccessFile, Fragments]


def _read(frame: Frame) -> bytes:
    file, fragments = frame
    return file.read(*fragments[0]) if len(fragments) == 1 else b"".join(file.read_ranges(fragments))


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
        self._files = {i.path: RandomAccessFile(str(i.path)) for i in instances}
        self._frame_order = frame_order
        photometric = str(ds.get("PhotometricInterpretation", ""))
        self._fill = 255 if photometric != "MONOCHROME1" and samples == 3 else 0
        self._pass_through = self.syntax in JPEG_BASELINE and photometric in PASS_THROUGH_PHOTOMETRIC

    # -- where each tile's frame is ------------------------------------------------------------
    @functools.cached_property
    def _frames(self) -> dict[tuple[int, int], Frame]:
        """Grid (row, col) -> the file and fragments of the frame stored there (found on first read)."""
        located: list[Frame] = []
        for instance in self._instances:
            file = self._files[instance.path]
            located += [(file, fragments) for fragments in _frame_ranges(file, instance)]
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
        file = self._files[first.path]
        frames = [self._decode((file, f)).astype(np.float32) for f in _frame_ranges(file, first)[:n]]
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
        blobs = iter(decode_all(self._decode, present))
        th, tw = self.tile_shape
        blank = np.full((th, tw, self.shape[2]), self._fill, self.dtype)
        return [blank if f is None else next(blobs) for f in wanted]

    def _decode(self, frame: Frame) -> np.ndarray:
        file, fragments = frame
        data = _read(frame)
        th, tw = self.tile_shape
        samples = self.shape[2]
        if self.syntax not in NATIVE:  # a header that claims more than the frame holds is refused before decoding
            check_codec_header(data, th, tw, f"{file.path}: the frame at byte {fragments[0][0]}")
        try:
            if self.syntax in NATIVE:
                tile = np.frombuffer(data, self.dtype.newbyteorder(NATIVE[self.syntax]))
            else:
                tile = np.asarray(getattr(imagecodecs, f"{DECODERS[self.syntax]}_decode")(data))
            tile = tile.reshape(th, tw, samples)
        except Exception as exc:  # codecs raise their own types
            raise CorruptImageError(f"{file.path}: cannot decode the frame at byte {fragments[0][0]}: {exc}") from exc
        return np.ascontiguousarray(tile, dtype=self.dtype)

    def raw_tiles(self, positions: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """JPEG Baseline frames as stored (standalone JPEG files); None for other codecs or missing tiles."""
        if not self._pass_through:
            return None
        frames = [self._frames.get(rc) for rc in positions]
        if any(f is None for f in frames):
            return None
        return [_read(f) for f in frames if f is not None]

    def close(self) -> None:
        for file in self._files.values():
            file.close()


def _plane_key(group: Any) -> tuple[str, str]:
    """A frame's focal plane and optical path (frames of other planes/paths than the first are skipped)."""
    where = group.PlanePositionSlideSequence[0]
    z = str(where.get("ZOffsetInSlideCoordinateSystem", ""))
    path = group.OpticalPathIdentificationSequence[0] if "OpticalPathIdentificationSequence" in group else None
    return z, str(path.get("OpticalPathIdentifier", "")) if path is not None else ""


class DicomWsiSource:
    """A DICOM whole-slide series: a folder (or one of its files) of WSI instances."""

    name = "dicomwsi"
    rank = 90  # the best score probe() gives: outranks the volume reader for slide microscopy

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
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
        root = Path(path)
        folder = root if root.is_dir() else root.parent
        files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
        with warnings.catch_warnings():  # pydicom's value-length complaints as values are first converted
            warnings.simplefilter("ignore")
            instances = scan(files)
            if not root.is_dir():  # one file names its series: the instances of that series beside it
                own = next((i for i in instances if i.path == root), None)
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
        source._load(path, scan(files), series, frame_order, decoded_cache)
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
        self.series = str(chosen[0].ds.get("SeriesInstanceUID", ""))
        stat = os.stat(chosen[0].path)
        identity = (os.path.realpath(chosen[0].path), stat.st_mtime_ns, stat.st_size)
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
