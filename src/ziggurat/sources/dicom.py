"""DICOM series (a folder of slices, or one multi-frame file) assembled into a volume with pydicom.

Slices are sorted by their position along the slice normal (row x column direction cosines), pixel
values get RescaleSlope/RescaleIntercept, in-plane spacing comes from PixelSpacing and the z step from
the ImagePositionPatient of neighbouring slices. Files from more than one series, or with different
sizes or orientations, are rejected. Voxels are never resampled: a gantry-tilted series keeps its
sheared geometry in the affine (its slice step is the real position step, not the normal), and a
series with uneven steps is assembled as acquired, with the mean step in the affine, every slice's
position in ``metadata.extra["dicom"]["positions"]`` and an :class:`UnevenSpacingWarning` — or an error
with ``uneven="error"``. Slices of one series in several orientations (a localizer's three planes) are
stacked in instance order with the same warning (an error with ``uneven="error"``).

A folder holding several series opens one with ``series=uid`` (:mod:`~ziggurat.sources.dicomdir`
lists them).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, CorruptImageError, UnsupportedFormatError
from .base import ArrayReader, Metadata, NoAssociatedImages
from .guards import ClampedFile, check_dicom_frames

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
UNEVEN_TOLERANCE = 0.01  # relative spread of slice steps still called even


class UnevenSpacingWarning(UserWarning):
    """A DICOM series whose slices are not evenly spaced; it was assembled without resampling."""


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError as exc:
        raise BackendUnavailableError("DICOM needs pydicom: pip install 'ziggurat[volumes]'") from exc
    return pydicom


def _read(path: Path) -> Any:
    pydicom = _pydicom()
    try:
        return pydicom.dcmread(ClampedFile(path))  # a damaged length reads what is there, no more
    except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError) as exc:
        raise CorruptImageError(f"{path}: not a readable DICOM file: {exc}") from exc


def _pixels(ds: Any, path: Path) -> np.ndarray:
    check_dicom_frames(ds, str(path))  # the budget, and frame headers that claim more than Rows x Columns
    try:
        return np.asarray(ds.pixel_array)
    except Exception as exc:  # pydicom raises many types for bad pixel data or missing handlers
        raise CorruptImageError(f"{path}: cannot decode pixel data: {exc}") from exc


def _rescale(raw: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Apply the modality LUT; stays integer (smallest fitting type) when slope and intercept allow."""
    if slope == 1 and float(intercept).is_integer():
        values = raw.astype(np.int32) + int(intercept)
        for dtype in (raw.dtype, np.int16, np.int32):
            info = np.iinfo(dtype)
            if values.size == 0 or (values.min() >= info.min and values.max() <= info.max):
                return values.astype(dtype)
    return (raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)).astype(np.float32)


def _affine(
    row: np.ndarray, col: np.ndarray, spacing_yx: tuple[float, ...], origin: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """NIfTI-convention affine (x=column, y=row, z=slice index -> RAS+ mm) from LPS geometry."""
    lps = np.eye(4)
    lps[:3, 0] = row * spacing_yx[1]
    lps[:3, 1] = col * spacing_yx[0]
    lps[:3, 2] = step
    lps[:3, 3] = origin
    return LPS_TO_RAS @ lps


def is_dicom(path: Path) -> bool:
    """Whether ``path`` starts like a DICOM Part 10 file (the "DICM" prefix after the preamble)."""
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:132] == b"DICM"
    except OSError:
        return False


class DicomSource(NoAssociatedImages):
    """A folder of single-frame DICOM slices (one series), or one DICOM file, assembled into a volume."""

    name = "dicom"
    rank = 80  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        if os.path.isdir(path):
            try:
                with os.scandir(path) as entries:
                    files = sorted(e.path for e in entries if e.is_file() and not e.name.startswith("."))
            except OSError:
                return 0
            return 75 if any(is_dicom(Path(f)) for f in files[:8]) else 0
        if head[128:132] == b"DICM":
            return 80
        return 30 if path.lower().endswith(".dcm") else 0

    def __init__(self, path: str, *, uneven: str = "warn", series: str | None = None) -> None:
        root = Path(path)
        if root.is_dir():  # other files in a series folder (notes, thumbnails) are skipped
            files = sorted(f for f in root.iterdir() if f.is_file() and (f.suffix.lower() == ".dcm" or is_dicom(f)))
        else:
            files = [root]
        self._load(path, files, uneven, series)

    @classmethod
    def from_files(
        cls, path: str, files: list[Path], *, uneven: str = "warn", series: str | None = None
    ) -> DicomSource:
        """The series ``series`` among ``files`` (a DICOMDIR's listing), reported under ``path``."""
        source = cls.__new__(cls)
        source._load(path, files, uneven, series)
        return source

    def _load(self, path: str, files: list[Path], uneven: str, series: str | None) -> None:
        slices = [(f, ds) for f in files if "PixelData" in (ds := _read(f))]
        if series is not None:
            slices = [(f, ds) for f, ds in slices if str(ds.get("SeriesInstanceUID", "")) == series]
        if not slices:
            raise UnsupportedFormatError(
                f"{path}: no DICOM images with pixel data" + (f" in series {series}" if series else "")
            )
        found = {str(ds.get("SeriesInstanceUID", "")) for _, ds in slices}
        if len(found) > 1:
            raise UnsupportedFormatError(
                f"{path}: files from {len(found)} DICOM series mixed; open one with series=UID: {sorted(found)}"
            )
        if len(slices) == 1 and int(slices[0][1].get("NumberOfFrames", 1)) > 1:
            volume, meta = _multiframe(*slices[0])
        else:
            volume, meta = _series(Path(path), slices, uneven)
        self.levels = [ArrayReader(volume)]
        self.metadata = meta

    def close(self) -> None:
        pass


def _series(path: Path, slices: list[tuple[Path, Any]], uneven: str) -> tuple[np.ndarray, Metadata]:
    first = slices[0][1]
    shapes = {(int(ds.Rows), int(ds.Columns)) for _, ds in slices}
    orients = {
        tuple(round(float(v), 4) for v in ds.get("ImageOrientationPatient", (1, 0, 0, 0, 1, 0))) for _, ds in slices
    }
    if len(shapes) > 1 or (len(orients) > 1 and uneven == "error"):
        raise UnsupportedFormatError(f"{path}: slices differ in size {sorted(shapes)} or orientation {sorted(orients)}")
    if len(orients) > 1:  # a localizer's orthogonal planes: shown in acquisition order, without geometry
        warnings.warn(
            f"{path}: slices in {len(orients)} orientations; stacked in instance order, z spacing unknown",
            UnevenSpacingWarning, stacklevel=3,
        )  # fmt: skip
        return _instance_stack(slices)
    iop = np.array([float(v) for v in first.get("ImageOrientationPatient", (1, 0, 0, 0, 1, 0))])
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    positions = np.array(
        [[float(v) for v in ds.get("ImagePositionPatient", (0, 0, i))] for i, (_, ds) in enumerate(slices)]
    )
    order = np.argsort(positions @ normal, kind="stable")
    positions = positions[order]
    distances = positions @ normal
    steps = np.diff(distances)
    if len(slices) > 1 and np.any(steps <= 0):
        raise UnsupportedFormatError(
            f"{path}: several slices share one position (more than one volume in this series?)"
        )
    even = len(steps) < 2 or np.ptp(steps) <= UNEVEN_TOLERANCE * abs(np.mean(steps))
    if not even:
        message = (
            f"{path}: slice steps range {steps.min():.3g}-{steps.max():.3g} mm; "
            "assembled unresampled with the mean step"
        )
        if uneven == "error":
            raise UnsupportedFormatError(message)
        warnings.warn(message, UnevenSpacingWarning, stacklevel=3)
    spacing_yx = tuple(float(v) for v in first.get("PixelSpacing", (1.0, 1.0)))
    step = (
        (positions[-1] - positions[0]) / (len(slices) - 1)
        if len(slices) > 1
        else normal * float(first.get("SliceThickness", 1.0))
    )
    z_spacing = float(abs(step @ normal))
    planes = [
        _rescale(_pixels(ds, f), float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0))
        for f, ds in (slices[i] for i in order)
    ]
    dtype = np.result_type(*planes)
    volume = np.stack([p.astype(dtype, copy=False) for p in planes])
    extra = {"dicom": {
        "series_uid": str(first.get("SeriesInstanceUID", "")),
        "modality": str(first.get("Modality", "")),
        "positions": positions.tolist(),
        "even_spacing": bool(even),
        "gantry_tilt": float(first.get("GantryDetectorTilt", 0) or 0),
        "window": _file_window(first),
    }}  # fmt: skip
    affine = _affine(row, col, spacing_yx, positions[0], step)
    return volume, Metadata.volume("dicom", "zyx", (z_spacing, *spacing_yx), affine, extra=extra)


def _instance_stack(slices: list[tuple[Path, Any]]) -> tuple[np.ndarray, Metadata]:
    """Slices of one size but several orientations, stacked by InstanceNumber (z spacing 1, no affine
    beyond the in-plane spacing)."""
    ordered = sorted(slices, key=lambda item: int(item[1].get("InstanceNumber", 0) or 0))
    planes = [
        _rescale(_pixels(ds, f), float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0))
        for f, ds in ordered
    ]
    dtype = np.result_type(*planes)
    first = ordered[0][1]
    spacing_yx = tuple(float(v) for v in first.get("PixelSpacing", (1.0, 1.0)))
    extra = {"dicom": {
        "series_uid": str(first.get("SeriesInstanceUID", "")),
        "modality": str(first.get("Modality", "")),
        "orientations": [[float(v) for v in ds.get("ImageOrientationPatient", ())] for _, ds in ordered],
        "even_spacing": False,
    }}  # fmt: skip
    volume = np.stack([p.astype(dtype, copy=False) for p in planes])
    return volume, Metadata.volume("dicom", "zyx", (1.0, *spacing_yx), extra=extra)


def _file_window(ds: Any) -> list[float] | None:
    """The file's first (WindowCenter, WindowWidth), in rescaled units (HU for CT), if it gives one."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    return [float(v[0]) if isinstance(v, Sequence) and not isinstance(v, str) else float(v) for v in (center, width)]


def _multiframe(path: Path, ds: Any) -> tuple[np.ndarray, Metadata]:
    """A multi-frame file: frames become z; geometry from the functional groups when present."""
    frames = _pixels(ds, path)
    if frames.ndim != 3:
        raise UnsupportedFormatError(f"{path}: multi-frame pixel data of shape {frames.shape} is not a grey volume")
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", [])

    def group(item: Any, name: str) -> Any:
        return item.get(name, [None])[0] if item is not None and name in item else None

    measures = group(shared, "PixelMeasuresSequence") or (per_frame and group(per_frame[0], "PixelMeasuresSequence"))
    orient = group(shared, "PlaneOrientationSequence") or (
        per_frame and group(per_frame[0], "PlaneOrientationSequence")
    )
    spacing_yx = tuple(float(v) for v in (measures.PixelSpacing if measures else ds.get("PixelSpacing", (1, 1))))
    iop = np.array([float(v) for v in (orient.ImageOrientationPatient if orient else (1, 0, 0, 0, 1, 0))])
    positions = [group(item, "PlanePositionSequence") for item in per_frame]
    pos = (
        np.array([[float(v) for v in p.ImagePositionPatient] for p in positions])
        if per_frame and all(positions)
        else None
    )
    normal = np.cross(iop[:3], iop[3:])
    thickness = float(measures.get("SliceThickness", 1.0) if measures else ds.get("SliceThickness", 1.0))
    if pos is not None and len(pos) > 1:
        order = np.argsort(pos @ normal, kind="stable")
        frames, pos = frames[order], pos[order]
        step = (pos[-1] - pos[0]) / (len(pos) - 1)
    else:
        step = normal * thickness
    rescale = group(shared, "PixelValueTransformationSequence")
    slope = float(rescale.RescaleSlope if rescale else ds.get("RescaleSlope", 1) or 1)
    intercept = float(rescale.RescaleIntercept if rescale else ds.get("RescaleIntercept", 0) or 0)
    origin = pos[0] if pos is not None else np.zeros(3)
    affine = _affine(iop[:3], iop[3:], spacing_yx, origin, step)
    extra = {"dicom": {"series_uid": str(ds.get("SeriesInstanceUID", "")), "modality": str(ds.get("Modality", ""))}}
    z_spacing = float(abs(step @ normal)) or thickness
    meta = Metadata.volume("dicom", "zyx", (z_spacing, *spacing_yx), affine, extra=extra)
    return _rescale(frames, slope, intercept), meta
