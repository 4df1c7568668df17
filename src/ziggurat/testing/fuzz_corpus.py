"""The fuzzing corpus: seed images (generated, plus real files) and deterministic mutations of them.

A :class:`Case` is a seed and one mutation, described in JSON-safe values so a worker process can
rebuild the mutated copy itself. Mutations are the ways files break in the wild or in an attacker's
hands: truncations, flipped bytes in headers and data, crafted TIFF tag values, IFD chains that loop,
codec headers that claim more pixels than their tile holds, absurd array sizes, gzip bombs. The same
``seed`` string always gives the same cases.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import random
import shutil
import signal
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

#: (area, relative path) of the real files the corpus mutates, when ../shared/realdata is present
REAL_SEEDS = (
    ("tiff", "svs/CMU-1-Small-Region.svs"),
    ("tiff", "svs/tcga-cr-7395-01a-01-ts1.svs"),
    ("tiff", "qptiff/small_vectra.qptiff"),
    ("tiff", "ome-tiff/multi-channel-z-series.ome.tif"),
    ("tiff", "tiff/pathml_smalltif.tif"),
    ("tiff", "tiff/kidney-48-5.tif"),
    ("tiffstack", "tiff-stack/calcium_imaging.tif"),
    ("dicom", "dicom/single/pydicom_CT_small.dcm"),
    ("dicom", "dicom/single/pydicom_MR_small_RLE.dcm"),
    ("dicom", "dicom/single/pydicom_MR_small_bigendian.dcm"),
    ("dicom", "dicom/single/pydicom_JPEG2000.dcm"),
    ("dicom", "dicom/single/libvips_dicom_test_image_nm.dcm"),
    ("dicom", "dicom-wsi/pathml_small_dicom.dcm"),
    ("nifti", "nifti/anatomical.nii"),
    ("nifti", "nifti/example_nifti2.nii.gz"),
    ("nifti", "nifti/example4d.nii.gz"),
)
TIFF_TAGS = (
    "ImageWidth", "ImageLength", "TileWidth", "TileLength", "RowsPerStrip", "BitsPerSample",
    "SamplesPerPixel", "Compression", "PlanarConfiguration", "Photometric", "SampleFormat",
    "TileOffsets", "StripOffsets", "TileByteCounts", "StripByteCounts", "Predictor", "SubIFDs",
)  # fmt: skip
ABSURD = (0, 1, 3, 255, 32767, 65500, 2**31 - 1, 2**32 - 1, 10**9)
ONE_FILE = "one-file:"  # a kind's prefix: the mutation applies to one file of a folder seed
TAG_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}


@dataclass(frozen=True)
class Case:
    """One fuzz case: mutate the seed at ``seed`` (a file or folder) with ``kind`` and ``params``."""

    area: str
    seed: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    index: int = 0

    @property
    def id(self) -> str:
        return f"{self.area}/{Path(self.seed).name}/{self.kind}/{self.index}"

    def to_json(self) -> dict[str, Any]:
        return {"area": self.area, "seed": self.seed, "kind": self.kind, "params": self.params, "index": self.index}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        return cls(data["area"], data["seed"], data["kind"], dict(data["params"]), int(data["index"]))


# -- seeds ------------------------------------------------------------------------------------------
def generated_seeds(folder: Path) -> list[tuple[str, Path]]:
    """Small images of every format the registry reads, written into ``folder`` (once)."""
    import tifffile
    from PIL import Image as PILImage

    from .sample import write_slide

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    seeds: list[tuple[str, Path]] = []

    def once(area: str, name: str, write: Callable[[Path], object]) -> None:
        path = folder / name
        if not path.exists():
            write(path)
        seeds.append((area, path))

    rgb = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    grey16 = rng.integers(0, 4000, (500, 600), dtype=np.uint16)
    once("tiff", "slide-jpeg.tif", lambda p: write_slide(p, 1100, 700))
    once("tiff", "deflate-tiled.tif", lambda p: tifffile.imwrite(p, grey16, tile=(128, 128), compression="zlib"))
    once("tiff", "lzw-strips.tif", lambda p: tifffile.imwrite(p, rgb, compression="lzw", rowsperstrip=32))
    once("tiff", "raw-strips.tif", lambda p: tifffile.imwrite(p, rgb, rowsperstrip=16))
    once("tiff", "raw-tiled-big.tif", lambda p: tifffile.imwrite(p, grey16, tile=(128, 128), bigtiff=True))
    once("pillow", "picture.png", lambda p: PILImage.fromarray(rgb).save(p))
    once("pillow", "picture.jpg", lambda p: PILImage.fromarray(rgb).save(p, quality=85))
    once("nifti", "volume.nii", lambda p: _nifti(p, 1))
    once("nifti", "volume.nii.gz", lambda p: _nifti(p, 1))
    once("nifti", "volume2.nii", lambda p: _nifti(p, 2))
    once("zarr", "array-v3.zarr", lambda p: _zarr(p, 3))
    once("zarr", "array-v2.zarr", lambda p: _zarr(p, 2))
    once("omezarr", "ome.zarr", _omezarr)
    once("dicom", "wsi-dicom", _dicom_wsi)
    if importlib.util.find_spec("tensorstore") is not None:
        once("n5", "array.n5", _n5)
    return seeds


def _nifti(path: Path, version: int) -> None:
    nibabel = _nibabel()

    data = np.random.default_rng(3).integers(-500, 1500, (40, 36, 20)).astype(np.int16)
    cls = nibabel.Nifti1Image if version == 1 else nibabel.Nifti2Image
    nibabel.save(cls(data, np.diag([1.5, 1.5, 3.0, 1.0])), path)


def _nibabel() -> Any:
    import nibabel

    return nibabel


def _zarr(path: Path, version: Literal[2, 3]) -> None:
    import zarr

    data = np.random.default_rng(4).integers(0, 3000, (6, 70, 90)).astype(np.uint16)
    array = zarr.create_array(path, shape=data.shape, chunks=(2, 32, 32), dtype=data.dtype, zarr_format=version)
    array[...] = data


def _omezarr(path: Path) -> None:
    from ..model.image import Image
    from ..sources.array import ArraySource
    from ..sources.base import Metadata
    from ..writers.convert import to_omezarr

    data = np.random.default_rng(5).integers(0, 3000, (5, 130, 150)).astype(np.uint16)
    meta = Metadata.volume("array", "zyx", (2.0, 0.5, 0.5), None)
    to_omezarr(Image(ArraySource([data], meta)), path, chunks=(2, 64, 64))


def _dicom_wsi(path: Path) -> None:
    from .dicomwsi import slide_pixels, write_dicom_wsi

    write_dicom_wsi(path, slide_pixels(384, 512, seed=7), levels=2, tile=128)


def _n5(path: Path) -> None:
    import tensorstore

    data = np.random.default_rng(6).integers(0, 60000, (5, 45, 70)).astype(np.uint16)
    spec = {
        "driver": "n5", "kvstore": {"driver": "file", "path": str(path)}, "create": True,
        "metadata": {"dimensions": list(data.shape), "blockSize": [2, 16, 32], "dataType": "uint16",
                     "compression": {"type": "gzip"}},
    }  # fmt: skip
    tensorstore.open(spec).result().write(data).result()


def real_seeds(realdata: Path | None) -> list[tuple[str, Path]]:
    if realdata is None:
        return []
    return [(area, realdata / rel) for area, rel in REAL_SEEDS if (realdata / rel).exists()]


# -- cases ------------------------------------------------------------------------------------------
def cases(seeds: list[tuple[str, Path]], per_seed: int, seed: str = "ziggurat") -> list[Case]:
    """``per_seed`` cases for every seed (plus its pristine copy), the same for the same ``seed``."""
    out: list[Case] = []
    for area, path in seeds:
        rng = random.Random(hashlib.sha256(f"{seed}|{path.name}".encode()).digest())
        kinds = _kinds(area, path)
        out.append(Case(area, str(path), "pristine"))
        for i in range(per_seed):
            kind = kinds[i % len(kinds)]
            out.append(Case(area, str(path), kind, _params(kind, rng), i))
    return out


def _kinds(area: str, path: Path) -> list[str]:
    common = ["truncate", "flip-header", "flip-data", "zero-run"]
    if path.is_dir() and area == "dicom":  # a series of instance files: one of them is mutated
        return [f"{ONE_FILE}{k}" for k in (*common, "dicom-field", "codec-lie")]
    if path.is_dir():
        return ["json-field", "json-truncate", "json-nest", "chunk-flip", "chunk-truncate", "chunk-bomb", "chunk-lie"]
    if area == "tiff":
        return [*common, "tiff-tag", "tiff-tag", "tiff-tag", "ifd-cycle", "codec-lie", "tile-bomb"]
    if area == "nifti":
        return [*common, "nifti-field", "nifti-field", "gzip-bomb"]
    if area == "pillow":
        return [*common, "codec-lie"]
    if area == "dicom":
        return [*common, "dicom-field", "codec-lie"]
    return common


def _params(kind: str, rng: random.Random) -> dict[str, Any]:
    """Random choices for one mutation, drawn now so the case is fixed by its seed."""
    return {
        "fraction": rng.choice([0.001, 0.01, 0.05, 0.2, 0.5, 0.9, 0.999, rng.random()]),
        "count": rng.choice([1, 1, 2, 4, 16]),
        "offsets": [rng.random() for _ in range(16)],
        "values": [rng.randrange(256) for _ in range(16)],
        "pick": rng.randrange(1 << 30),
        "absurd": rng.choice(ABSURD),
        "depth": rng.choice([64, 1000, 100_000]),
    }


# -- mutations --------------------------------------------------------------------------------------
def materialise(case: Case, folder: Path) -> Path:
    """Write the mutated copy of the case's seed into ``folder`` and return its path."""
    seed = Path(case.seed)
    target = folder / seed.name
    if seed.is_dir():
        shutil.copytree(seed, target)
    else:
        shutil.copyfile(seed, target)
        target.chmod(0o644)
    if case.kind.startswith(ONE_FILE):
        files = sorted(f for f in target.rglob("*") if f.is_file())
        MUTATIONS[case.kind.removeprefix(ONE_FILE)](files[case.params["pick"] % len(files)], case.params)
    elif case.kind != "pristine":
        MUTATIONS[case.kind](target, case.params)
    return target


def _spot(size: int, fraction: float, lo: int = 0) -> int:
    return min(size - 1, lo + int((size - lo) * fraction)) if size > lo else 0


def truncate(path: Path, p: dict[str, Any]) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(int(size * p["fraction"]))


def flip(path: Path, p: dict[str, Any], header: bool) -> None:
    size = path.stat().st_size
    span = min(size, 1024) if header else size
    with open(path, "r+b") as fh:
        for k in range(p["count"]):
            fh.seek(int(span * p["offsets"][k]) if span else 0)
            fh.write(bytes([p["values"][k]]))


def zero_run(path: Path, p: dict[str, Any]) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(_spot(size, p["fraction"]))
        fh.write(b"\x00" * 64)


def tiff_tag(path: Path, p: dict[str, Any]) -> None:
    """Set one structural tag of one page to an absurd (or random) value, in place."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        pages = [page for page in tif.pages[:4] if isinstance(page, tifffile.TiffPage)]
        tags = [(page.index, tag) for page in pages for tag in page.tags if tag.name in TIFF_TAGS]
        order = "<" if tif.byteorder == "<" else ">"
    if not tags:
        return
    _, tag = tags[p["pick"] % len(tags)]
    fmt = TAG_FORMATS.get(int(tag.dtype))
    if fmt is None:
        return
    value = p["absurd"] if p["count"] != 2 else int(p["fraction"] * 2**16)
    bits = struct.calcsize(fmt) * 8
    value = value % (1 << bits) if fmt.isupper() else max(min(value, (1 << (bits - 1)) - 1), -(1 << (bits - 1)))
    with open(path, "r+b") as fh:
        fh.seek(tag.valueoffset)
        fh.write(struct.pack(order + fmt, value))


def ifd_cycle(path: Path, p: dict[str, Any]) -> None:
    """Point an IFD's next-IFD offset back at itself or at the first IFD: a chain that loops."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        offsets = [page.offset for page in tif.pages]
        order, big = tif.byteorder, tif.is_bigtiff
    ifd = offsets[p["pick"] % len(offsets)]
    target = offsets[0] if p["count"] % 2 else ifd
    with open(path, "r+b") as fh:
        fh.seek(ifd)
        if big:
            (n,) = struct.unpack(order + "Q", fh.read(8))
            fh.seek(ifd + 8 + n * 20)
            fh.write(struct.pack(order + "Q", target))
        else:
            (n,) = struct.unpack(order + "H", fh.read(2))
            fh.seek(ifd + 2 + n * 12)
            fh.write(struct.pack(order + "I", target))


def codec_lie(path: Path, p: dict[str, Any]) -> None:
    """Make the first JPEG SOF, JPEG 2000 SIZ or PNG IHDR in the file claim a huge picture."""
    data = bytearray(path.read_bytes())
    side = p["absurd"] if p["absurd"] > 255 else 65500
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        at = data.find(marker, 2)
        while at > 0 and data[at + 2 : at + 4] in (b"\x00\x00",):
            at = data.find(marker, at + 2)
        if at > 0:
            data[at + 5 : at + 9] = struct.pack(">HH", min(side, 65535), min(side, 65535))
            path.write_bytes(bytes(data))
            return
    at = data.find(b"\xff\x51")
    if at > 0:
        data[at + 6 : at + 14] = struct.pack(">II", side, side)
        path.write_bytes(bytes(data))
        return
    at = data.find(b"IHDR")
    if at > 0:
        data[at + 4 : at + 12] = struct.pack(">II", side, side)
        data[at + 17 : at + 21] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 17])))
        path.write_bytes(bytes(data))


def tile_bomb(path: Path, p: dict[str, Any]) -> None:
    """Point the first tile or strip at a small deflate stream that inflates to 256 MiB of zeros."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        tags = tif.pages.first.tags
        offsets_tag = tags.get("TileOffsets") or tags.get("StripOffsets")
        counts_tag = tags.get("TileByteCounts") or tags.get("StripByteCounts")
        order = tif.byteorder
    if offsets_tag is None or counts_tag is None:
        return
    bomb = zlib.compress(b"\x00" * (256 << 20), 9)
    start = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(start)
        fh.write(bomb)
        for tag, value in ((offsets_tag, start), (counts_tag, len(bomb))):
            fmt = TAG_FORMATS.get(int(tag.dtype), "I")
            if value >= 1 << (8 * struct.calcsize(fmt)):
                return  # a SHORT tag cannot point past 64 KiB: the case reads the file unchanged
            fh.seek(tag.valueoffset)
            fh.write(struct.pack(order + fmt, value))
        compression = tags.get("Compression")
        if compression is not None and compression.value in (1, 5):
            fh.seek(compression.valueoffset)
            fh.write(struct.pack(order + "H", 8))


def nifti_field(path: Path, p: dict[str, Any]) -> None:
    """Set one NIfTI header field (a dimension, the datatype, bitpix, vox_offset) to an absurd value."""
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    data = bytearray(raw)
    little = struct.unpack("<i", data[:4])[0] in (348, 540)
    order = "<" if little else ">"
    v2 = struct.unpack(order + "i", data[:4])[0] == 540
    # (offset, format) of dim[0..7], datatype, bitpix, vox_offset in NIfTI-1 and NIfTI-2 headers
    fields = (
        [(16 + 8 * i, "q") for i in range(8)] + [(12, "h"), (14, "h"), (168, "q")]
        if v2
        else [(40 + 2 * i, "h") for i in range(8)] + [(70, "h"), (72, "h"), (108, "f")]
    )
    at, fmt = fields[p["pick"] % len(fields)]
    choices = [p["absurd"], -1, 0, 999, 10**9]
    value = choices[p["count"] % len(choices)]
    if fmt == "h":
        value = max(min(value, 32767), -32768)
    data[at : at + struct.calcsize(fmt)] = struct.pack(order + fmt, float(value) if fmt == "f" else value)
    out = bytes(data)
    path.write_bytes(gzip.compress(out, 1) if path.name.endswith(".gz") else out)


def gzip_bomb(path: Path, p: dict[str, Any]) -> None:
    """A .nii.gz whose header claims a huge volume, its voxels a long run of compressed zeros."""
    nibabel = _nibabel()
    side = 1 << (10 + p["count"] % 3)  # 1024 .. 4096 per side
    header = nibabel.Nifti1Header()
    header.set_data_shape((side, side, side))
    header.set_data_dtype(np.int16)
    block = header.binaryblock + b"\x00" * 4
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(block)
        zeros = b"\x00" * (16 << 20)
        for _ in range(8):  # 128 MiB of voxels: a small file, a big inflate
            fh.write(zeros)


def dicom_field(path: Path, p: dict[str, Any]) -> None:
    """Set Rows, Columns, BitsAllocated, SamplesPerPixel or NumberOfFrames to an absurd value."""
    import pydicom

    ds = pydicom.dcmread(path)
    names = ["Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "NumberOfFrames", "PixelRepresentation"]
    name = names[p["pick"] % len(names)]
    value = p["absurd"]
    try:
        setattr(ds, name, min(value, 65535) if name != "NumberOfFrames" else str(value))
        ds.save_as(path)
    except Exception:  # pydicom refuses some values; the case then reads the seed unchanged
        return


def _json_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.name in (".zarray", "zarr.json", ".zattrs", "attributes.json"))


def _chunk_files(folder: Path) -> list[Path]:
    return sorted(
        f
        for f in folder.rglob("*")
        if f.is_file() and not f.name.endswith(".json") and (f.name[0].isdigit() or f.parent.name == "c")
    )


def _walk(node: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _walk(value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield node, i
            yield from _walk(value)


def json_field(path: Path, p: dict[str, Any]) -> None:
    """Replace one value in one metadata document with an absurd number, a string or a null."""
    files = _json_files(path)
    if not files:
        return
    file = files[p["pick"] % len(files)]
    doc = json.loads(file.read_text())
    spots = list(_walk(doc))
    if not spots:
        return
    container, key = spots[(p["pick"] >> 8) % len(spots)]
    choices: list[Any] = [p["absurd"], -p["absurd"], None, "x", [], 10**30, 0.5]
    old = container[key]
    new = choices[p["count"] % len(choices)]
    if isinstance(old, list) and old and all(isinstance(v, int) for v in old):
        new = [p["absurd"]] * len(old)
    container[key] = new
    file.write_text(json.dumps(doc))


def json_truncate(path: Path, p: dict[str, Any]) -> None:
    files = _json_files(path)
    if files:
        file = files[p["pick"] % len(files)]
        text = file.read_text()
        file.write_text(text[: int(len(text) * p["fraction"])])


def json_nest(path: Path, p: dict[str, Any]) -> None:
    """Deeply nested JSON in place of one document's attributes."""
    files = _json_files(path)
    if files:
        file = files[p["pick"] % len(files)]
        depth = p["depth"]
        file.write_text('{"attributes": ' + "[" * depth + "]" * depth + "}")


def chunk_mutation(path: Path, p: dict[str, Any], how: str) -> None:
    files = _chunk_files(path)
    if not files:
        return
    file = files[p["pick"] % len(files)]
    if how == "flip":
        flip(file, p, header=p["count"] % 2 == 0)
    elif how == "truncate":
        truncate(file, p)
    else:
        file.write_bytes(zlib.compress(b"\x00" * (64 << 20), 9))


def chunk_lie(path: Path, p: dict[str, Any]) -> None:
    """Make one chunk's own header claim a huge decoded size: a zstd frame's content size, a blosc
    header's byte count, an N5 block's dimensions (the codec is asked to allocate what it claims)."""
    files = _chunk_files(path)
    if not files:
        return
    file = files[p["pick"] % len(files)]
    data = bytearray(file.read_bytes())
    huge = p["absurd"] if p["absurd"] > 65535 else 2**40
    if data[:4] == b"\x28\xb5\x2f\xfd" and len(data) > 6:  # zstd
        descriptor = data[4]
        single = bool(descriptor & 0x20)
        fields = 4 + 1 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
        fcs_size = (1 if single else 0, 2, 4, 8)[descriptor >> 6]
        data[4] = descriptor | 0xC0  # an 8-byte frame content size
        data[fields : fields + fcs_size] = struct.pack("<Q", huge)
    elif any(part.endswith(".n5") for part in file.parts) and len(data) >= 16:
        ndim = int.from_bytes(data[2:4], "big")
        data[4 : 4 + 4 * ndim] = struct.pack(f">{ndim}I", *([min(huge, 2**32 - 1)] * ndim))
    elif len(data) >= 16 and data[0] in (1, 2):  # blosc: version, versionlz, flags, typesize, nbytes
        data[4:8] = struct.pack("<I", min(huge, 2**31 - 1))
    file.write_bytes(bytes(data))


MUTATIONS: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "truncate": truncate,
    "flip-header": lambda path, p: flip(path, p, header=True),
    "flip-data": lambda path, p: flip(path, p, header=False),
    "zero-run": zero_run,
    "tiff-tag": tiff_tag,
    "ifd-cycle": ifd_cycle,
    "codec-lie": codec_lie,
    "tile-bomb": tile_bomb,
    "nifti-field": nifti_field,
    "gzip-bomb": gzip_bomb,
    "dicom-field": dicom_field,
    "json-field": json_field,
    "json-truncate": json_truncate,
    "json-nest": json_nest,
    "chunk-flip": lambda path, p: chunk_mutation(path, p, "flip"),
    "chunk-truncate": lambda path, p: chunk_mutation(path, p, "truncate"),
    "chunk-bomb": lambda path, p: chunk_mutation(path, p, "bomb"),
    "chunk-lie": chunk_lie,
    # the suite's own check that it notices a hang, a crash and an untyped error
    "selftest-hang": lambda path, p: time.sleep(3600),
    "selftest-signal": lambda path, p: os.kill(os.getpid(), signal.SIGSEGV),
    "selftest-untyped": lambda path, p: [][1],
}
