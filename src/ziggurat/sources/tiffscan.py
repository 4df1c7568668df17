"""A fast first look at plain pyramidal TIFFs and Aperio SVS: IFD geometry without tifffile.

Opening a slide with tifffile parses every page's every tag (tile offset arrays included): about
3 ms for a 7-level 40,000 x 30,000 slide, several times openslide's whole open. For the two layouts
most slides have — a generic tiled pyramid (page 0 plus reduced-resolution pages) and Aperio SVS
(levels, a stripped thumbnail, label and macro) — :func:`scan` reads only the small tags of each IFD
(one positional read per directory; offset arrays are left where they are) and says which page is
which level; tifffile then parses just the page a first read needs. Any tag outside the baseline
set, any other vendor's description, or any layout it does not recognise answers None, and the file
is opened by tifffile as before.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from ..errors import ZigguratError

#: tags whose presence keeps a page on the fast path (TIFF 6 baseline + tiles, JPEG tables, ICC, SGI depth)
BASELINE = frozenset({
    254, 256, 257, 258, 259, 262, 269, 270, 271, 272, 273, 274, 277, 278, 279, 282, 283, 284, 296,
    305, 306, 315, 316, 317, 322, 323, 324, 325, 338, 339, 347, 529, 530, 531, 532, 32997, 33432, 34675,
})  # fmt: skip
TYPES = {
    1: "B",
    2: "s",
    3: "H",
    4: "I",
    5: "II",
    6: "b",
    7: "B",
    8: "h",
    9: "i",
    10: "ii",
    11: "f",
    12: "d",
    16: "Q",
    17: "q",
    18: "Q",
}  # fmt: skip (struct formats; rationals are two numbers)
SIZES = {"B": 1, "s": 1, "H": 2, "I": 4, "II": 8, "b": 1, "h": 2, "i": 4, "ii": 8, "f": 4, "d": 8, "Q": 8, "q": 8}
MAX_PAGES = 64


@dataclass(frozen=True)
class Page:
    """The small tags of one IFD, by code (rationals as (numerator, denominator), strings decoded)."""

    index: int
    tags: dict[int, Any]

    def get(self, code: int, default: Any = None) -> Any:
        return self.tags.get(code, default)

    @property
    def tiled(self) -> bool:
        return 322 in self.tags

    @property
    def shape(self) -> tuple[int, int, int]:
        return int(self.tags[257]), int(self.tags[256]), int(self.get(277, 1))

    @property
    def description(self) -> str:
        return str(self.get(270, ""))


@dataclass(frozen=True)
class Layout:
    """Which pages are the levels (finest first) and which are the associated images."""

    vendor: str  # "aperio" or "generic-tiff"
    pages: list[Page]
    levels: list[int]
    associated: dict[str, int]


def scan(path: str) -> Layout | None:
    """The layout of a plain tiled pyramid or an SVS file, or None (tifffile opens it)."""
    try:
        with open(path, "rb") as fh:
            return scan_stream(fh, os.fstat(fh.fileno()).st_size)
    except OSError:
        return None


def scan_stream(fh: BinaryIO, size: int) -> Layout | None:
    """:func:`scan` of an open binary file of ``size`` bytes (a remote object's reader: each IFD is
    then one small cached read, its offset arrays are not fetched)."""
    try:
        pages = _pages(fh, size)
    except ZigguratError:  # a remote read failed after its retries: not a layout question
        raise
    except (OSError, struct.error, ValueError, UnicodeDecodeError):
        return None
    if not pages or any(not set(p.tags) <= BASELINE for p in pages) or not pages[0].tiled:
        return None
    first = pages[0]
    if any(p.get(284, 1) != 1 or p.get(339, 1) != 1 or p.get(259, 1) == 1 or p.get(32997, 1) != 1 for p in pages):
        return None  # planar, signed/float, uncompressed or volumetric pages: tifffile's readers decide those
    if first.description[:7] == "Aperio ":
        return _svs(pages)
    if first.description.startswith(("<", "{", "ImageJ=")) or str(first.get(305, "")).startswith("Philips"):
        return None
    levels = [0]
    for page in pages[1:]:
        previous = pages[levels[-1]].shape
        if not (page.tiled and page.get(254, 0) == 1 and page.shape[2] == previous[2] and page.shape < previous):
            return None
        levels.append(page.index)
    return Layout("generic-tiff", pages, levels, {})


def _svs(pages: list[Page]) -> Layout | None:
    """tifffile's SVS rules: page 0, then after the thumbnail (page 1) tiled pages of new sizes, then
    label and macro (subfiletype 9)."""
    levels, associated, index = [0], {}, 2
    if len(pages) > 1:
        if pages[1].tiled:
            return None
        associated["thumbnail"] = 1
    while index < len(pages) and pages[index].tiled and not pages[index].get(254, 0) & 1:
        if pages[index].shape in {pages[i].shape for i in levels}:
            return None  # focal planes
        levels.append(index)
        index += 1
    for page in pages[index : index + 2]:
        associated["macro" if page.get(254, 0) == 9 else "label"] = page.index
    if index + 2 < len(pages):
        return None
    return Layout("aperio", pages, levels, associated)


#: tags whose values are read: geometry on every page, the text and resolution tags on page 0
GEOMETRY = frozenset({254, 256, 257, 258, 259, 277, 284, 322, 323, 339, 32997})
ICC = 34675  # InterColorProfile, kept as bytes (the openslide drop-in's color_profile)
FIRST_PAGE = GEOMETRY | {269, 270, 271, 272, 282, 283, 296, 305, 306, 315, 316, 33432}


def _entries(order: str, big: bool) -> np.dtype[Any]:
    pointer = "u8" if big else "u4"
    return np.dtype([("code", order + "u2"), ("kind", order + "u2"), ("count", order + pointer),
                     ("value", "V8" if big else "V4")])  # fmt: skip


def _pages(fh: Any, size: int) -> list[Page]:
    head = fh.read(16)
    order = {b"II": "<", b"MM": ">"}[head[:2]]
    version = struct.unpack(order + "H", head[2:4])[0]
    if version not in (42, 43):
        raise ValueError("not a TIFF")
    big = version == 43
    offset = struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]
    count_size, pointer = (8, "Q") if big else (2, "I")
    dtype = _entries(order, big)
    pages: list[Page] = []
    seen = set()
    while offset and len(pages) < MAX_PAGES:
        if offset in seen:
            raise ValueError("the IFD chain loops")  # tifffile's path names the loop as a typed error
        seen.add(offset)
        fh.seek(offset)
        n = struct.unpack(order + ("Q" if big else "H"), fh.read(count_size))[0]
        table = fh.read(n * dtype.itemsize + struct.calcsize(pointer))
        entries = np.frombuffer(table, dtype, count=n)
        wanted = FIRST_PAGE if not pages else GEOMETRY
        tags: dict[int, Any] = dict.fromkeys(entries["code"].tolist())
        for code, kind, count, inline in entries.tolist():
            if code in wanted or code == ICC:
                tags[code] = _value(fh, order, kind, count, inline, big, size)
        pages.append(Page(len(pages), tags))
        offset = struct.unpack(order + pointer, table[n * dtype.itemsize :])[0]
    return pages


def _value(fh: Any, order: str, kind: int, count: int, inline: bytes, big: bool, size: int) -> Any:
    fmt = TYPES.get(kind)
    if fmt is None:
        return None
    nbytes = SIZES[fmt] * count
    if nbytes <= len(inline):
        data = inline[:nbytes]
    else:
        where = struct.unpack(order + ("Q" if big else "I"), inline)[0]
        if where + nbytes > size or nbytes > 1 << 20:
            raise ValueError("tag value outside the file")
        fh.seek(where)
        data = fh.read(nbytes)
    if fmt == "s":
        return data.rstrip(b"\0").decode("utf-8", errors="replace")
    if kind == 7:  # UNDEFINED: opaque bytes (an ICC profile)
        return data
    values = struct.unpack(f"{order}{count * len(fmt)}{fmt[0]}", data)
    if len(fmt) == 2:  # rationals as (numerator, denominator)
        rationals = tuple(zip(values[::2], values[1::2]))
        return rationals[0] if count == 1 else rationals
    return values[0] if count == 1 else values
