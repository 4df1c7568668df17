"""TIFF backend: tifffile parses the structure, we read and decode tiles straight from offsets.

Covers generic tiled/striped TIFF and BigTIFF, pyramidal and OME-TIFF (SubIFDs, channels as pages),
Aperio SVS (JPEG with shared tables, JPEG 2000), Hamamatsu NDPI, Philips, Leica SCN, QPTIFF —
whatever tifffile recognises. A series with a time or z axis (OME-TIFF ``TCZYX``, ImageJ hyperstacks,
shaped or plain page sequences, read as time) keeps every axis, in ``tczyx`` order, with its physical
sizes; one without them is a ``yxc`` slide (channel pages stacked as channels). tifffile's per-page
``decode`` closure handles every codec, predictor and colour space; this module only decides which
segments a request needs, fetches their bytes with coalesced positional reads and decodes them in
parallel.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import threading
from typing import Any

import numpy as np
import tifffile

from ..errors import CorruptImageError, UnsupportedCodecError, UnsupportedFormatError
from ..io.files import RandomAccessFile
from ..io.opening import ByteFile, open_file, parser_input
from . import tiffscan
from .base import Box, LevelReader, Metadata, format_number
from .contiguous import ContiguousArray, ContiguousLevel
from .guards import check_allocation, check_codec_header, check_ifd_chain, check_tiff_segments
from .tiled import DecodedOption, cache_of, decode_all

TAG_CODES = {
    "ImageDescription": 270, "Make": 271, "Model": 272, "Software": 305, "DateTime": 306, "Artist": 315,
    "HostComputer": 316, "Copyright": 33432, "DocumentName": 269, "XResolution": 282, "YResolution": 283,
    "ResolutionUnit": 296,
}  # fmt: skip
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
ASSOCIATED = ("thumbnail", "label", "macro")
STRING_TAGS = (
    "ImageDescription", "Make", "Model", "Software", "DateTime", "Artist", "HostComputer",
    "Copyright", "DocumentName",
)  # fmt: skip
UNIT_TO_UM = {"nm": 1e-3, "µm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6}
#: tifffile's series axes -> ours; a shaped or generic page sequence (Q, I) is time, samples (S) channels
TIFF_AXES = {"T": "t", "C": "c", "Z": "z", "Y": "y", "X": "x", "S": "c", "Q": "t", "I": "t"}
TIME_TO_SECONDS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "min": 60.0, "h": 3600.0}


class SegmentLevel:
    """A level stored as compressed tiles or strips, read segment by segment."""

    def __init__(self, file: ByteFile, page: Any, key: tuple[Any, ...], decoded: DecodedOption) -> None:
        keyframe = page.keyframe
        self._file = file
        self._page = page
        self._key = key
        self._decoded_option = decoded
        h, w = keyframe.imagelength, keyframe.imagewidth
        samples = keyframe.samplesperpixel
        if keyframe.is_tiled:
            th, tw = keyframe.tilelength, keyframe.tilewidth
        else:
            th, tw = min(keyframe.rowsperstrip, h), w
        self.shape = (h, w, samples)
        self.dtype = np.dtype(keyframe.dtype).newbyteorder("=")
        self.tile_shape = (th, tw)
        self.chunks: tuple[int, ...] = (th, tw, samples)
        self._grid = (math.ceil(h / th), math.ceil(w / tw))
        self._planes = samples if keyframe.planarconfig == 2 else 1

    @functools.cached_property
    def _segments(self) -> tuple[np.ndarray, np.ndarray]:
        """File offsets and byte counts of every tile or strip (loaded on first read)."""
        offsets = np.asarray(self._page.dataoffsets, dtype=np.int64)
        counts = np.asarray(self._page.databytecounts, dtype=np.int64)
        if len(offsets) < self._planes * self._grid[0] * self._grid[1] or len(counts) != len(offsets):
            raise CorruptImageError(f"{self._file.path}: fewer tile offsets than the image needs")
        return offsets, counts

    @functools.cached_property
    def _decoder(self) -> tuple[Any, dict[str, Any]]:
        """tifffile's decode closure for this page and its keyword arguments."""
        keyframe = self._page.keyframe
        args: dict[str, Any] = {"_fullsize": True}
        if keyframe.compression in (6, 7, 34892, 33007):
            args["jpegtables"] = keyframe.jpegtables
            args["jpegheader"] = keyframe.jpegheader
        return keyframe.decode, args

    def read(self, box: Box) -> np.ndarray:
        (y, y_end), (x, x_end), channels = box
        height, width = y_end - y, x_end - x
        out = np.empty((height, width, self.shape[2]), dtype=self.dtype)
        if height == 0 or width == 0:
            return _channels(out, channels)
        th, tw = self.tile_shape
        rows = range(y // th, (y + height - 1) // th + 1)
        cols = range(x // tw, (x + width - 1) // tw + 1)
        wanted = [(r, c) for r in rows for c in cols]
        tiles = self._tiles(wanted)
        for (r, c), tile in zip(wanted, tiles):
            ty0, tx0 = r * th, c * tw
            sy0, sy1 = max(y, ty0), min(y + height, ty0 + th)
            sx0, sx1 = max(x, tx0), min(x + width, tx0 + tw)
            out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = tile[sy0 - ty0 : sy1 - ty0, sx0 - tx0 : sx1 - tx0]
        return _channels(out, channels)

    def raw_tiles(self, positions: list[tuple[int, int]]) -> list[bytes] | None:
        """Stored bytes of tiles (row, col) as standalone JPEG files, or None if not JPEG tiles.

        Only single-plane YCbCr or grayscale JPEG qualifies (a standalone RGB JPEG would be
        read as YCbCr); shared JPEGTables are spliced into each tile.
        """
        keyframe = self._page.keyframe
        if keyframe.compression != 7 or self._planes != 1 or keyframe.photometric not in (1, 6):
            return None
        if not positions:
            return []
        offsets, counts = self._segments
        index = [row * self._grid[1] + col for row, col in positions]
        blobs = self._file.read_ranges([(int(offsets[i]), int(counts[i])) for i in index])
        tables = keyframe.jpegtables
        if not tables:
            return blobs
        head = bytes(tables[:-2])  # SOI + tables, without their EOI
        return [head + blob[2:] for blob in blobs]

    def _tiles(self, wanted: list[tuple[int, int]]) -> list[np.ndarray]:
        """Decoded (th, tw, C) tiles for grid positions, from the cache or the file."""
        tiles: list[np.ndarray | None] = [None] * len(wanted)
        missing = []
        option = self._decoded_option
        cache = cache_of(option)
        for i, rc in enumerate(wanted):
            cached = cache.get((self._key, rc)) if cache is not None else None
            if cached is None:
                missing.append(i)
            else:
                tiles[i] = cached
        if missing:
            indices = [self._segment_indices(*wanted[i]) for i in missing]
            offsets, counts = self._segments
            ranges = [(int(offsets[j]), int(counts[j])) for group in indices for j in group]
            blobs = self._file.read_ranges(ranges)
            jobs = []
            pos = 0
            for i, group in zip(missing, indices):
                jobs.append((wanted[i], [(j, blobs[pos + k]) for k, j in enumerate(group)]))
                pos += len(group)
            decoded = decode_all(self._decode_tile, jobs)
            for i, tile in zip(missing, decoded):
                tiles[i] = tile
                if cache is not None:
                    cache.put((self._key, wanted[i]), tile)
        return tiles  # type: ignore[return-value]

    def _segment_indices(self, row: int, col: int) -> list[int]:
        per_plane = self._grid[0] * self._grid[1]
        base = row * self._grid[1] + col
        return [plane * per_plane + base for plane in range(self._planes)]

    def _decode_tile(self, job: tuple[tuple[int, int], list[tuple[int, bytes]]]) -> np.ndarray:
        (row, col), parts = job
        _th, _tw = self.tile_shape
        if self._planes == 1:
            index, data = parts[0]
            return self._decode_one(row, col, index, data)[..., : self.shape[2]]
        planes = [self._decode_one(row, col, index, data)[..., 0] for index, data in parts]
        return np.stack(planes, axis=-1)

    def _decode_one(self, row: int, col: int, index: int, data: bytes) -> np.ndarray:
        th, tw = self.tile_shape
        if not data:
            return np.zeros((th, tw, self.shape[2] if self._planes == 1 else 1), self.dtype)
        decode, args = self._decoder
        where = f"{self._file.path}: tile row {row} col {col} (level {self._key[1]})"
        check_codec_header(data, th, tw, where)
        check_allocation(th * tw * self.shape[2] * self.dtype.itemsize, where)
        try:
            tile, _, _ = decode(data, index, **args)
        except Exception as exc:  # codecs raise their own error types
            raise CorruptImageError(
                f"{self._file.path}: cannot decode tile row {row} col {col} (level {self._key[1]}): {exc}"
            ) from exc
        tile = tile.reshape(tile.shape[-3:])
        if tile.shape[0] < th or tile.shape[1] < tw:  # a short last strip
            pad = ((0, th - tile.shape[0]), (0, tw - tile.shape[1]), (0, 0))
            tile = np.pad(tile, pad)
        return np.asarray(tile, dtype=self.dtype)


class ScannedLevel:
    """A level whose geometry came from :mod:`.tiffscan`: tifffile parses its page on the first read."""

    def __init__(self, source: TiffSource, page: tiffscan.Page, index: int, decoded: DecodedOption) -> None:
        h, w, samples = page.shape
        bits = page.get(258, 8)
        bits = bits[0] if isinstance(bits, tuple) else bits
        self.shape = (h, w, samples)
        self.dtype = np.dtype(f"u{int(bits) // 8}")
        self.tile_shape = (int(page.get(323)), int(page.get(322)))
        self.chunks: tuple[int, ...] = (*self.tile_shape, samples)
        self._source, self._page, self._index, self._decoded = source, page.index, index, decoded
        self._reader: SegmentLevel | None = None

    @property
    def reader(self) -> SegmentLevel:
        if self._reader is None:
            source = self._source
            # tifffile reads a page's offsets and tables lazily through the one shared file handle:
            # load them all under the source's lock, so later reads never touch tifffile's handle
            with source._tif_lock:
                if self._reader is None:
                    page = source.tiff_page(self._page)
                    reader = SegmentLevel(source._file, page, (source._identity, self._index, 0), self._decoded)
                    _ = reader._segments, reader._decoder
                    self._reader = reader
        return self._reader

    def read(self, box: Box) -> np.ndarray:
        return self.reader.read(box)

    def raw_tiles(self, positions: list[tuple[int, int]]) -> list[bytes] | None:
        return self.reader.raw_tiles(positions)


class ChannelStack:
    """Channels stored as separate pages (OME-TIFF, QPTIFF) presented as one (H, W, C) level."""

    def __init__(self, planes: list[LevelReader]) -> None:
        self._planes = planes
        first = planes[0]
        self.shape = (first.shape[0], first.shape[1], sum(p.shape[2] for p in planes))
        self.dtype = first.dtype
        self.chunks: tuple[int, ...] = (*first.chunks[:2], self.shape[2])

    def read(self, box: Box) -> np.ndarray:
        (c0, c1), plane_box = box[2], box[:2]
        parts, start = [], 0
        for plane in self._planes:  # the planes holding channels [c0, c1)
            n = plane.shape[2]
            lo, hi = max(c0, start), min(c1, start + n)
            if lo < hi:
                parts.append(plane.read((*plane_box, (lo - start, hi - start))))
            start += n
        if not parts:  # no channels asked for
            (y0, y1), (x0, x1) = plane_box
            return np.empty((y1 - y0, x1 - x0, 0), self.dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


class StackLevel:
    """An N-D level (``t c z y x`` in some subset) of a series whose pages are stacked along t, c, z.

    The file's axes (tifffile's series axes, mapped by :data:`TIFF_AXES`) are read in their stored
    order — by positional reads for a contiguous uncompressed series (never a memory map: see
    :mod:`.contiguous`), else page by page — and transposed to ``axes``. Pages are opened on first
    read, so a 1,000-page stack costs nothing at open."""

    def __init__(self, level: Any, axes: str, page_reader: Any, file: ByteFile, byteorder: str) -> None:
        stored = "".join(TIFF_AXES[a] for a in level.axes)
        keyframe = level.keyframe
        self._stored = stored
        self._lead = stored[: len(stored) - len(keyframe.axes)]
        self._lead_shape = tuple(level.shape[: len(self._lead)])
        self._samples = "S" in keyframe.axes
        self._pages = level.pages
        self._page_reader = page_reader
        self._opened: dict[int, LevelReader] = {}
        self.axes = axes
        self._order = tuple(stored.index(a) for a in axes)
        self.shape: tuple[int, ...] = tuple(level.shape[i] for i in self._order)
        self.dtype = np.dtype(level.dtype).newbyteorder("=")
        th = keyframe.tilelength if keyframe.is_tiled else min(keyframe.rowsperstrip, keyframe.imagelength)
        tw = keyframe.tilewidth if keyframe.is_tiled else keyframe.imagewidth
        stored_chunks = (*([1] * len(self._lead)), th, tw, *([keyframe.samplesperpixel] if self._samples else []))
        self.chunks: tuple[int, ...] = tuple(stored_chunks[i] for i in self._order)
        self._array: ContiguousArray | None = None
        offset = level.dataoffset if keyframe.compression == 1 and keyframe.predictor == 1 else None
        if offset is not None and keyframe.bitspersample % 8 == 0 and keyframe.fillorder == 1:
            dtype = np.dtype(level.dtype).newbyteorder(byteorder)
            self._array = ContiguousArray(file, int(offset), tuple(level.shape), dtype)

    def _page(self, index: int) -> LevelReader:
        reader = self._opened.get(index)
        if reader is None:
            reader = self._opened[index] = self._page_reader(self._pages[index], index)
        return reader

    def read(self, box: Box) -> np.ndarray:
        by_axis = dict(zip(self.axes, box))
        stored_box = tuple(by_axis[a] for a in self._stored)
        if self._array is not None:
            block = self._array.read(stored_box)
        else:
            lead = stored_box[: len(self._lead)]
            (y0, y1), (x0, x1) = by_axis["y"], by_axis["x"]
            samples = stored_box[-1] if self._samples else (0, 1)
            block = np.empty((*(b - a for a, b in lead), y1 - y0, x1 - x0, samples[1] - samples[0]), self.dtype)
            for where in itertools.product(*(range(a, b) for a, b in lead)):
                page = self._page(int(np.ravel_multi_index(where, self._lead_shape)) if where else 0)
                block[tuple(w - a for w, (a, _) in zip(where, lead))] = page.read(((y0, y1), (x0, x1), samples))
            if not self._samples:
                block = block[..., 0]
        return np.ascontiguousarray(block.transpose(self._order))


class TiffSource:
    """Any TIFF tifffile understands, read tile by tile."""

    name = "tiff"
    rank = 50  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        return 50 if head[:4] in TIFF_MAGIC else 0

    def __init__(self, path: str, *, decoded_cache: DecodedOption = True) -> None:
        self.path = path
        self._file = open_file(path)  # a local file or an s3:// / http(s):// object
        self._lazy_tif: tifffile.TiffFile | None = None  # the scanned path's, opened on first read
        self._lazy_pid = -1
        self._tif_lock = threading.RLock()
        local = isinstance(self._file, RandomAccessFile)
        # None for anything unusual, an IFD loop included; remote: only the IFDs' small tags are fetched
        layout = tiffscan.scan(path) if local else tiffscan.scan_stream(parser_input(self._file), self._file.size)  # type: ignore[arg-type]
        if layout is not None:  # a plain pyramid or SVS: tifffile parses a page when it is first read
            self._open_scanned(layout, decoded_cache)
            return
        if local:
            check_ifd_chain(path)  # before tifffile, which spins on some loops
        self._layout: tiffscan.Layout | None = None
        try:
            tif = self._tif = tifffile.TiffFile(parser_input(self._file))
            series = tif.series
        except Exception as exc:  # tifffile raises many types on damaged files
            raise CorruptImageError(f"{path}: not a readable TIFF ({exc})") from exc
        if not series or not series[0].pages:
            raise UnsupportedFormatError(f"{path}: TIFF holds no image")
        self._series = series
        # decoded tiles are cached under the file's identity, so a reopened file reuses them
        self._identity = self._file.identity
        main = series[0]
        self._check_codec(main.keyframe)
        self._axes = _stack_axes(main)
        try:
            if self._axes is None:
                self.levels = [self._level_reader(level, i, decoded_cache) for i, level in enumerate(main.levels)]
            else:
                self.levels = [self._stack_reader(level, i, decoded_cache) for i, level in enumerate(main.levels)]
        except (CorruptImageError, UnsupportedCodecError):
            raise
        except Exception as exc:
            raise CorruptImageError(f"{path}: damaged TIFF structure ({exc})") from exc
        self.levels = [lvl for lvl in self.levels if 0 not in lvl.shape]
        self.metadata = self._metadata()

    @property
    def version(self) -> str:
        """The bytes opened: path or URL, mtime or ETag, and size (what decoded tiles are keyed by)."""
        return repr(self._identity)

    def _check_codec(self, page: Any) -> None:
        _check_codec(self.path, page.compression)

    def _open_scanned(self, layout: tiffscan.Layout, decoded: DecodedOption) -> None:
        self._layout = layout
        self._identity = self._file.identity
        first = layout.pages[0]
        _check_codec(self.path, first.get(259, 1))
        self._axes = None
        self.levels = [ScannedLevel(self, layout.pages[p], i, decoded) for i, p in enumerate(layout.levels)]
        self.levels = [lvl for lvl in self.levels if 0 not in lvl.shape]
        meta = Metadata.slide(layout.vendor, None, properties=_tag_properties(lambda name: first.get(TAG_CODES[name])))
        if layout.vendor == "aperio":
            self._aperio(first.description, meta)
        if meta.mpp is None:
            meta.mpp = _resolution_values(first.get(296, 2), first.get(282), first.get(283))
        meta.associated_names = list(layout.associated)
        icc = {name: layout.pages[p].get(tiffscan.ICC) for name, p in layout.associated.items()}
        meta.extra["icc_profiles"] = {name: bytes(p) for name, p in icc.items() if isinstance(p, bytes) and p}
        if isinstance(profile := first.get(tiffscan.ICC), bytes) and profile:
            meta.extra["icc_profile"] = profile
        self.metadata = meta

    def tiff_page(self, index: int) -> Any:
        """tifffile's page ``index`` (the file is parsed on first use, one page at a time)."""
        with self._tif_lock:
            if self._lazy_tif is None or self._lazy_pid != os.getpid():  # a forked child parses with its own handle
                try:
                    self._lazy_tif, self._lazy_pid = tifffile.TiffFile(parser_input(self._file)), os.getpid()
                except Exception as exc:
                    raise CorruptImageError(f"{self.path}: not a readable TIFF ({exc})") from exc
            try:
                return self._lazy_tif.pages[index]
            except Exception as exc:  # tifffile raises many types on damaged pages
                raise CorruptImageError(f"{self.path}: damaged TIFF page {index} ({exc})") from exc

    def _level_reader(self, level: Any, index: int, decoded: DecodedOption) -> LevelReader:
        axes = level.axes
        page_axes = level.keyframe.axes
        leading = axes[: len(axes) - len(page_axes)]
        shape = level.shape[: len(leading)]
        # channels stored as pages; other leading axes (Z, T, ...) are read at their first plane
        if "C" in leading and "S" not in page_axes:
            c_axis = leading.index("C")
            pages = []
            for c in range(shape[c_axis]):
                position = [0] * len(leading)
                position[c_axis] = c
                pages.append(int(np.ravel_multi_index(position, shape)) if shape else 0)
        else:
            pages = [0]
        readers = [self._page_reader(level.pages[p], (index, p), decoded) for p in pages]
        return readers[0] if len(readers) == 1 else ChannelStack(readers)

    def _stack_reader(self, level: Any, index: int, decoded: DecodedOption) -> LevelReader:
        def page_reader(page: Any, p: int) -> LevelReader:
            return self._page_reader(page, (index, p), decoded)

        assert self._axes is not None
        return StackLevel(level, self._axes, page_reader, self._file, self._tif.byteorder)

    def _page_reader(self, page: Any, key: tuple[Any, ...], decoded: DecodedOption) -> LevelReader:
        keyframe = page.keyframe
        if keyframe.imagedepth > 1:
            raise UnsupportedFormatError(f"{self.path}: volumetric TIFF tiles are not supported")
        if (
            keyframe.compression == 1
            and page.is_contiguous
            and keyframe.bitspersample % 8 == 0
            and keyframe.fillorder == 1
            and keyframe.predictor == 1
            and isinstance(self._file, RandomAccessFile)  # a remote file cannot be memory-mapped
        ):
            h, w, samples = keyframe.imagelength, keyframe.imagewidth, keyframe.samplesperpixel
            dtype = np.dtype(keyframe.dtype).newbyteorder(self._tif.byteorder)
            rows = keyframe.tilelength if keyframe.is_tiled else keyframe.rowsperstrip
            planar = keyframe.planarconfig == 2 and samples > 1
            return ContiguousLevel(self._file, int(page.dataoffsets[0]), (h, w, samples), dtype, planar, rows)
        return SegmentLevel(self._file, page, (self._identity, *key), decoded)

    # -- metadata -------------------------------------------------------------------------
    def _metadata(self) -> Metadata:
        tif, page = self._tif, self._series[0].keyframe
        meta = Metadata.slide(_vendor(tif), None, properties=_tag_properties(page.tags.valueof))
        if self._axes is not None:
            return self._stack_metadata(meta)
        if tif.is_svs:
            self._aperio(page.description, meta)
        elif tif.is_ome:
            self._ome(meta)
        elif tif.is_qpi:
            self._qptiff(meta)
        if meta.mpp is None:
            meta.mpp = _resolution_mpp(page)
        if tif.is_ndpi and meta.objective_power is None:
            mag = page.ndpi_tags.get("Magnification") if page.ndpi_tags else None
            meta.objective_power = float(mag) if mag else None
        meta.associated_names = [s.name.lower() for s in self._series[1:] if s.name.lower() in ASSOCIATED]
        # InterColorProfile of the image and of each associated image: the openslide drop-in's color_profile
        icc = {s.name.lower(): s.keyframe.tags.valueof(34675) for s in self._series[1:]}
        meta.extra["icc_profiles"] = {name: bytes(p) for name, p in icc.items() if p and name in ASSOCIATED}
        profile = page.tags.valueof(34675)
        if profile:
            meta.extra["icc_profile"] = bytes(profile)
        return meta

    def _aperio(self, description: str, meta: Metadata) -> None:
        fields = description.split("|")
        meta.properties["aperio.Header"] = fields[0].strip()
        for field in fields[1:]:
            key, _, value = field.partition("=")
            if key.strip():
                meta.properties[f"aperio.{key.strip()}"] = value.strip()
        mpp = _float(meta.properties.get("aperio.MPP"))
        meta.mpp = (mpp, mpp) if mpp else None
        meta.objective_power = _float(meta.properties.get("aperio.AppMag"))

    def _qptiff(self, meta: Metadata) -> None:
        """PerkinElmer/Akoya QPTIFF: each channel page's XML names its filter and display colour."""
        channels: list[Any] = list(self._series[0].pages) if self._series[0].axes.startswith("C") else []
        names: list[str] = []
        colors: list[tuple[int, int, int] | None] = []
        for page in channels:
            text = page.description if isinstance(page, tifffile.TiffPage) else ""
            name = re.search(r"<Name>([^<]*)</Name>", text)
            rgb = re.search(r"<Color>\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*</Color>", text)
            names.append(name.group(1) if name else f"C{len(names)}")
            colors.append(None if rgb is None else (int(rgb[1]), int(rgb[2]), int(rgb[3])))
        meta.channel_names, meta.channel_colors = names, colors
        meta.fluorescence = len(names) > 1
        objective = re.search(r"<Objective>\s*([\d.]+)\s*x", self._series[0].keyframe.description)
        meta.objective_power = float(objective[1]) if objective else None

    def _ome(self, meta: Metadata) -> None:
        pixels = _ome_pixels(self._tif)
        if not pixels:
            return
        sx, sy = pixels.get("PhysicalSizeX"), pixels.get("PhysicalSizeY")
        if sx and sy:
            ux = UNIT_TO_UM.get(pixels.get("PhysicalSizeXUnit", "µm"), 1.0)
            uy = UNIT_TO_UM.get(pixels.get("PhysicalSizeYUnit", "µm"), 1.0)
            meta.mpp = (float(sx) * ux, float(sy) * uy)
        channels = pixels.get("Channel", [])
        channels = channels if isinstance(channels, list) else [channels]
        meta.channel_names = [str(c.get("Name", f"C{i}")) for i, c in enumerate(channels)]
        meta.channel_colors = [_ome_color(c.get("Color")) for c in channels]
        # channels stored as separate pages are separate signals (an RGB OME-TIFF stores samples)
        meta.fluorescence = len(channels) > 1 and int(channels[0].get("SamplesPerPixel", 1) or 1) == 1
        for key in ("SizeX", "SizeY", "SizeZ", "SizeC", "SizeT", "DimensionOrder", "Type"):
            if key in pixels:
                meta.properties[f"ome.{key}"] = str(pixels[key])

    def _stack_metadata(self, meta: Metadata) -> Metadata:
        """A stack's axes and physical sizes: OME Physical Size / TimeIncrement, ImageJ spacing and
        finterval, else the resolution tags (µm; 1 with no unit where the file does not say)."""
        assert self._axes is not None
        tif, page = self._tif, self._series[0].keyframe
        sizes: dict[str, tuple[float, str]] = {}
        if tif.is_ome:
            self._ome(meta)
            pixels = _ome_pixels(tif)
            for axis, key in (
                ("x", "PhysicalSizeX"),
                ("y", "PhysicalSizeY"),
                ("z", "PhysicalSizeZ"),
                ("t", "TimeIncrement"),
            ):
                table = TIME_TO_SECONDS if axis == "t" else UNIT_TO_UM
                value, unit = _float(str(pixels.get(key, ""))), pixels.get(f"{key}Unit", "s" if axis == "t" else "µm")
                if value and unit in table:
                    sizes[axis] = (value * table[unit], "second" if axis == "t" else "micrometer")
        elif tif.is_imagej:
            ij = tif.imagej_metadata or {}
            to_um = UNIT_TO_UM.get(str(ij.get("unit", "")).replace("\\u00B5", "µ"))
            xres, yres = page.tags.valueof("XResolution"), page.tags.valueof("YResolution")
            if to_um and xres and yres and xres[0] and yres[0]:
                sizes["x"] = (xres[1] / xres[0] * to_um, "micrometer")
                sizes["y"] = (yres[1] / yres[0] * to_um, "micrometer")
            if to_um and _float(str(ij.get("spacing", ""))):
                sizes["z"] = (float(ij["spacing"]) * to_um, "micrometer")
            if _float(str(ij.get("finterval", ""))):
                sizes["t"] = (float(ij["finterval"]), "second")
            meta.channel_names = meta.channel_names or _imagej_labels(ij, dict(zip(self._axes, self.levels[0].shape)))
        if "x" not in sizes and (mpp := _resolution_mpp(page)) is not None:
            sizes["x"], sizes["y"] = (mpp[0], "micrometer"), (mpp[1], "micrometer")
        meta.axes = self._axes
        meta.scale = tuple(sizes.get(a, (1.0, ""))[0] for a in self._axes)
        meta.units = tuple(sizes[a][1] if a in sizes else None for a in self._axes)
        meta.associated_names = [s.name.lower() for s in self._series[1:] if s.name.lower() in ASSOCIATED]
        return meta

    def read_associated(self, name: str) -> np.ndarray:
        if self._layout is not None:
            with self._tif_lock:  # tifffile reads the page through its one shared handle
                page = self.tiff_page(self._layout.associated[name])  # KeyError for a name the file lacks
                check_tiff_segments(self._file.read, page, f"{self.path}: {name} image")
                check_allocation(int(np.prod(page.shape)) * page.dtype.itemsize, f"{self.path}: {name} image")
                try:
                    data: np.ndarray = page.asarray()
                except Exception as exc:
                    raise CorruptImageError(f"{self.path}: cannot decode {name} image ({exc})") from exc
            return data if data.ndim == 3 else data[..., None]
        for series in self._series[1:]:
            if series.name.lower() == name:
                for page in series.pages:
                    check_tiff_segments(self._file.read, page, f"{self.path}: {name} image")
                check_allocation(int(np.prod(series.shape)) * series.dtype.itemsize, f"{self.path}: {name} image")
                try:
                    data = series.asarray()
                except Exception as exc:
                    raise CorruptImageError(f"{self.path}: cannot decode {name} image ({exc})") from exc
                return data if data.ndim == 3 else data[..., None]
        raise KeyError(name)

    def close(self) -> None:
        self._file.close()
        if self._layout is None:
            self._tif.close()
        with self._tif_lock:
            if self._lazy_tif is not None and self._lazy_pid == os.getpid():
                self._lazy_tif.close()
                self._lazy_tif = None


def _stack_axes(series: Any) -> str | None:
    """Our axes for a series with a ``t`` or ``z`` axis (``tczyx`` order, present ones), or None for a
    slide (``y x`` plus channels as samples or pages), which keeps the ``yxc`` layout."""
    axes = series.axes
    mapped = [TIFF_AXES.get(a) for a in axes]
    if None in mapped or len(set(mapped)) != len(mapped) or not {"t", "z"} & set(mapped):
        return None  # unknown axes, or channels as both samples and pages: read as a slide
    if series.keyframe.axes not in ("YX", "YXS"):  # volumetric tiles (imagedepth > 1) are not read
        return None
    return "".join(a for a in "tczyx" if a in mapped)


def _ome_pixels(tif: tifffile.TiffFile) -> dict[str, Any]:
    """The first OME Image's Pixels element as a dict (empty when the XML is missing or odd)."""
    try:
        ome = tifffile.xml2dict(tif.ome_metadata or "")["OME"]
        image = ome["Image"][0] if isinstance(ome["Image"], list) else ome["Image"]
        pixels: dict[str, Any] = image["Pixels"]
    except Exception:
        return {}
    return pixels


def _imagej_labels(ij: dict[str, Any], sizes: dict[str, int]) -> list[str]:
    """Channel names from ImageJ's per-plane Labels when they repeat once per channel."""
    labels, channels = ij.get("Labels"), sizes.get("c", 0)
    if not isinstance(labels, list) or not channels or len(labels) % channels:
        return []
    names = [str(n) for n in labels[:channels]]
    return names if labels == names * (len(labels) // channels) else []


def _vendor(tif: tifffile.TiffFile) -> str:
    for flag, name in (
        ("is_svs", "aperio"), ("is_ndpi", "hamamatsu"), ("is_philips", "philips"),
        ("is_scn", "leica"), ("is_qpi", "qptiff"), ("is_ome", "ome-tiff"),
    ):  # fmt: skip
        if getattr(tif, flag, False):
            return name
    return "generic-tiff"


def _check_codec(path: str, compression: int) -> None:
    if compression != 1 and compression not in tifffile.TIFF.DECOMPRESSORS:
        raise UnsupportedCodecError(f"{path}: TIFF compression {compression} cannot be decoded")


def _tag_properties(value: Any) -> dict[str, str]:
    """openslide-style ``tiff.*`` properties from page 0's tags; ``value(name)`` gives a tag's value."""
    props: dict[str, str] = {}
    for name in STRING_TAGS:
        text = value(name)
        if isinstance(text, str):
            props[f"tiff.{name}"] = text
    for name in ("XResolution", "YResolution"):
        rational = value(name)
        if rational is not None:
            num, den = rational
            props[f"tiff.{name}"] = format_number(num / den if den else 0.0)
    unit = value("ResolutionUnit")
    unit = 2 if unit is None else unit
    props["tiff.ResolutionUnit"] = {1: "none", 2: "inch", 3: "centimeter"}.get(unit, str(unit))
    return props


def _resolution_mpp(page: Any) -> tuple[float, float] | None:
    """µm per pixel from a tifffile page's resolution tags."""
    tags = page.tags
    return _resolution_values(
        tags.valueof("ResolutionUnit", 1), tags.valueof("XResolution"), tags.valueof("YResolution")
    )


def _resolution_values(unit: Any, xres: Any, yres: Any) -> tuple[float, float] | None:
    """µm per pixel from TIFF resolution tags (centimetre or inch units; 72/96 dpi is a default)."""
    if unit not in (2, 3) or not xres or not yres or not xres[1] or not yres[1]:
        return None
    x, y = xres[0] / xres[1], yres[0] / yres[1]
    if x <= 0 or y <= 0 or (unit == 2 and x in (72, 96, 300)):
        return None
    per_unit = 25400.0 if unit == 2 else 10000.0
    return per_unit / x, per_unit / y


def _float(text: str | None) -> float | None:
    if not text:
        return None
    match = re.match(r"\s*[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", text)
    return float(match.group()) if match else None


def _ome_color(value: object) -> tuple[int, int, int] | None:
    """OME's Channel Color, a signed 32-bit RGBA integer, as (r, g, b)."""
    try:
        rgba = int(str(value)) & 0xFFFFFFFF
    except ValueError:
        return None
    return (rgba >> 24) & 255, (rgba >> 16) & 255, (rgba >> 8) & 255


def _channels(block: np.ndarray, channels: tuple[int, int]) -> np.ndarray:
    """``block``'s channels [start, stop) (the whole block when that is all of them)."""
    start, stop = channels
    return block if (start, stop) == (0, block.shape[2]) else np.ascontiguousarray(block[..., start:stop])
