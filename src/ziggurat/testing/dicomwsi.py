"""Generated DICOM whole-slide series (VL Whole Slide Microscopy Image Storage), written with pydicom.

:func:`write_dicom_wsi` writes one instance per pyramid level (TILED_FULL, or TILED_SPARSE with some
tiles left out), optionally splitting level 0 into a two-part concatenation, plus LABEL and OVERVIEW
instances; frames are JPEG Baseline, JPEG 2000 / JPEG-LS (both lossless), or native. The pixels it
encoded are returned, so lossless sets have an exact truth.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np

from ..kernels.reduce import reduce2

SYNTAXES = {
    "jpeg": ("1.2.840.10008.1.2.4.50", "YBR_FULL_422"),
    "jpeg2000": ("1.2.840.10008.1.2.4.90", "RGB"),
    "jpegls": ("1.2.840.10008.1.2.4.80", "RGB"),
    "native": ("1.2.840.10008.1.2.1", "RGB"),
}
WSI_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"


def slide_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB test pattern (JPEG keeps it close): gradients and soft blobs on white."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.full((height, width, 3), 240.0, np.float32)
    for _ in range(6):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(0.1, 0.3) * min(height, width)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None]
        out -= blob * rng.uniform(40, 140, 3).astype(np.float32)
    out[..., 0] += 10 * np.sin(x / 37.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def _encode(tile: np.ndarray, codec: str) -> bytes:
    if codec == "jpeg":
        return bytes(imagecodecs.jpeg8_encode(tile, level=95))
    if codec == "jpeg2000":
        return bytes(imagecodecs.jpeg2k_encode(tile, level=0, codecformat="j2k"))
    if codec == "jpegls":
        return bytes(imagecodecs.jpegls_encode(tile, level=0))
    return tile.tobytes()


def _tiles(level: np.ndarray, tile: int) -> list[tuple[int, int, np.ndarray]]:
    """(row, col, tile) row-major; edge tiles padded with white to the full frame size."""
    rows, cols = -(-level.shape[0] // tile), -(-level.shape[1] // tile)
    padded = np.full((rows * tile, cols * tile, 3), 255, np.uint8)
    padded[: level.shape[0], : level.shape[1]] = level
    return [
        (r, c, padded[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile]) for r in range(rows) for c in range(cols)
    ]


def _dataset(
    base: dict[str, Any], shape: tuple[int, int], tile: int, frames: int, flavor: str, syntax: str, photometric: str
) -> Any:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(WSI_SOP_CLASS)
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    for key, value in base.items():
        setattr(ds, key, value)
    ds.SOPClassUID = WSI_SOP_CLASS
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "SM"
    ds.ImageType = ["ORIGINAL" if flavor == "VOLUME" else "DERIVED", "PRIMARY", flavor, "NONE"]
    ds.Rows = ds.Columns = tile
    ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns = shape
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = photometric
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    return ds


def write_dicom_wsi(
    folder: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    levels: int = 3,
    tile: int = 128,
    codec: str = "jpeg",
    sparse: bool = False,
    concatenation: bool = False,
    mpp: float = 0.25,
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Write ``pixels`` (H, W, 3 uint8) as a DICOM WSI series of ``levels`` 2x levels into ``folder``
    (one file per instance). Returns each level's pixels as encoded and the associated images'."""
    from pydicom.dataset import Dataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import generate_uid

    syntax, photometric = SYNTAXES[codec]
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    measures = Dataset()
    base = {
        "StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid(), "SeriesDescription": "generated",
        "Manufacturer": "ziggurat.testing", "PatientName": "Phantom^Slide", "PatientID": "0",
        "FrameOfReferenceUID": generate_uid(), "DimensionOrganizationType": "TILED_SPARSE" if sparse else "TILED_FULL",
    }  # fmt: skip
    stack = [np.asarray(pixels, np.uint8)]
    while len(stack) < levels:
        stack.append(reduce2(stack[-1], (0, 1)))
    for index, level in enumerate(stack):
        tiles = _tiles(level, tile)
        if sparse:  # leave out every third tile (a sparse level; the gaps read as white)
            tiles = [t for k, t in enumerate(tiles) if k % 3 != 1]
        parts = [tiles[: len(tiles) // 2], tiles[len(tiles) // 2 :]] if concatenation and index == 0 else [tiles]
        concat_uid = generate_uid()
        offset = 0
        for number, part in enumerate(parts, 1):
            ds = _dataset(base, level.shape[:2], tile, len(part), "VOLUME", syntax, photometric)
            measures.PixelSpacing = [mpp * 2**index / 1000] * 2
            measures.SliceThickness = 0.001
            shared = Dataset()
            shared.PixelMeasuresSequence = [measures]
            ds.SharedFunctionalGroupsSequence = [shared]
            ds.InstanceNumber = index * 10 + number
            optical = Dataset()
            optical.OpticalPathIdentifier = "1"
            optical.OpticalPathDescription = "brightfield"
            optical.ObjectiveLensPower = 40 / 2**index
            ds.OpticalPathSequence = [optical]
            if len(parts) > 1:
                ds.ConcatenationUID = concat_uid
                ds.SOPInstanceUIDOfConcatenationSource = concat_uid
                ds.ConcatenationFrameOffsetNumber = offset
                ds.InConcatenationNumber = number
                ds.InConcatenationTotalNumber = len(parts)
            if sparse:
                ds.PerFrameFunctionalGroupsSequence = [_position(r, c, tile) for r, c, _ in part]
            _write(ds, [t for _, _, t in part], codec, out / f"level{index}-{number}.dcm", encapsulate)
            offset += len(part)
    associated = {}
    for flavor, name, size in (("LABEL", "label", (96, 160)), ("OVERVIEW", "macro", (128, 256))):
        picture = slide_pixels(*size, seed=7 if flavor == "LABEL" else 8)
        ds = _dataset(base, size, max(size), 1, flavor, syntax, photometric)
        ds.InstanceNumber = 90 if flavor == "LABEL" else 91
        frame = np.full((max(size), max(size), 3), 255, np.uint8)
        frame[: size[0], : size[1]] = picture
        _write(ds, [frame], codec, out / f"{flavor.lower()}.dcm", encapsulate)
        associated[name] = picture
    return stack, associated


def _position(row: int, col: int, tile: int) -> Any:
    from pydicom.dataset import Dataset

    where = Dataset()
    where.RowPositionInTotalImagePixelMatrix = row * tile + 1
    where.ColumnPositionInTotalImagePixelMatrix = col * tile + 1
    where.XOffsetInSlideCoordinateSystem = where.YOffsetInSlideCoordinateSystem = 0
    where.ZOffsetInSlideCoordinateSystem = 0
    group = Dataset()
    group.PlanePositionSlideSequence = [where]
    return group


def _write(ds: Any, frames: list[np.ndarray], codec: str, path: Path, encapsulate: Any) -> None:
    encoded = [_encode(f, codec) for f in frames]
    if codec == "native":
        ds.PixelData = b"".join(encoded)
    else:
        ds.PixelData = encapsulate(encoded, has_bot=True)
        ds["PixelData"].is_undefined_length = True
        ds.LossyImageCompression = "01" if codec == "jpeg" else "00"
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def dicomwsi_reference(path: str | os.PathLike[str], frame_order: str = "row", jpeg: str = "pillow") -> Any:
    """pydicom's decoded frames of a WSI series' VOLUME instances, one level per total matrix size
    (largest first, concatenation parts joined), placed by their per-frame positions, or in
    ``frame_order`` (row- or column-major) when the file has none; gaps are white; scale from
    PixelSpacing. JPEG frames are decoded by pydicom's Pillow plugin, or with ``jpeg="libjpeg-turbo"``
    pydicom's frame bytes by imagecodecs (JPEG decoders differ by a grey level in places)."""
    import pydicom

    from ..sources.base import SLIDE_AXES
    from .sources import Reference

    root = Path(path)
    files = sorted(root.iterdir()) if root.is_dir() else [root]
    by_size: dict[tuple[int, int], list[Any]] = {}
    for f in files:
        ds = pydicom.dcmread(f)
        image_type = list(ds.get("ImageType", []))
        if ds.SOPClassUID == WSI_SOP_CLASS and (len(image_type) < 3 or image_type[2] == "VOLUME"):
            by_size.setdefault((int(ds.TotalPixelMatrixRows), int(ds.TotalPixelMatrixColumns)), []).append(ds)
    levels = []
    for (height, width), parts in sorted(by_size.items(), key=lambda kv: -kv[0][0] * kv[0][1]):
        parts.sort(key=lambda d: int(d.get("ConcatenationFrameOffsetNumber", 0)))
        frames = np.concatenate([_frames(d, jpeg) for d in parts])
        th, tw = int(parts[0].Rows), int(parts[0].Columns)
        rows, cols = -(-height // th), -(-width // tw)
        groups = [g for d in parts for g in d.get("PerFrameFunctionalGroupsSequence", [])]
        if groups:
            where = [g.PlanePositionSlideSequence[0] for g in groups]
            origins = [(int(w.RowPositionInTotalImagePixelMatrix) - 1, int(w.ColumnPositionInTotalImagePixelMatrix) - 1)
                       for w in where]  # fmt: skip
        elif frame_order == "column":
            origins = [((k % rows) * th, (k // rows) * tw) for k in range(len(frames))]
        else:
            origins = [((k // cols) * th, (k % cols) * tw) for k in range(len(frames))]
        canvas = np.full((rows * th, cols * tw, frames.shape[-1]), 255, frames.dtype)
        for (y, x), frame in zip(origins, frames):
            canvas[y : y + th, x : x + tw] = frame
        levels.append(canvas[:height, :width])
    first = by_size[max(by_size, key=lambda s: s[0] * s[1])][0]
    shared = first.get("SharedFunctionalGroupsSequence", [None])[0]
    spacing = shared.PixelMeasuresSequence[0].PixelSpacing if shared is not None else None
    scale = None if spacing is None else (float(spacing[0]) * 1000, float(spacing[1]) * 1000, None)
    return Reference(levels, SLIDE_AXES, scale)


def _frames(ds: Any, jpeg: str) -> np.ndarray:
    """(frames, rows, columns, samples) as pydicom decodes them."""
    from pydicom.encaps import generate_frames

    if ds.file_meta.TransferSyntaxUID in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"):
        if jpeg == "libjpeg-turbo":
            frames = generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames))
            return np.stack([imagecodecs.jpeg8_decode(f) for f in frames]).reshape(-1, ds.Rows, ds.Columns, 3)
        ds.pixel_array_options(decoding_plugin="pillow")  # libjpeg-turbo's IDCT, as imagecodecs
    return np.asarray(ds.pixel_array).reshape(-1, ds.Rows, ds.Columns, ds.SamplesPerPixel)
