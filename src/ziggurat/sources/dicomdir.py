"""DICOM media sets (a DICOMDIR, or the folder holding one) and folders of mixed DICOM: their series.

:func:`list_series` lists a DICOMDIR's series from its directory records (pydicom's FileSet), or a
folder's (and its subfolders') by reading each file's header. A series is addressed by its Series
Instance UID: ``ziggurat.open(path, series=uid)``. A DICOMDIR holding one series opens without it;
with several, opening names them. Whole-slide series open with the dicomwsi backend, the others as
volumes with the dicom backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptImageError, UnsupportedFormatError
from .base import LevelReader, Metadata
from .dicom import DicomSource, _pydicom, is_dicom
from .dicomwsi import WSI_SOP_CLASS, DicomWsiSource

DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
HEADER_TAGS = ("SeriesInstanceUID", "Modality", "SeriesDescription", "SOPClassUID", "SeriesNumber")


@dataclass(frozen=True)
class SeriesInfo:
    """One series of a media set or folder."""

    uid: str
    modality: str
    description: str
    number: int | None
    files: tuple[Path, ...]
    sop_class: str

    @property
    def instances(self) -> int:
        return len(self.files)

    @property
    def slide(self) -> bool:
        """A whole-slide microscopy series (opened by the dicomwsi backend)."""
        return self.sop_class == WSI_SOP_CLASS


def is_dicomdir(path: str, head: bytes) -> bool:
    return os.path.basename(path).upper() == "DICOMDIR" or (
        head[128:132] == b"DICM" and DIRECTORY_SOP_CLASS.encode() + b"\x00" in head
    )


def list_series(path: str | os.PathLike[str]) -> list[SeriesInfo]:
    """The series in a DICOMDIR or a folder of DICOM files (searched recursively), by series number."""
    root = Path(path)
    rows = _from_dicomdir(root) if root.is_file() else _from_folder(root)
    grouped: dict[str, list[tuple[Path, Any]]] = {}
    for file, header in rows:
        grouped.setdefault(str(header.get("SeriesInstanceUID", "")), []).append((file, header))
    found = []
    for uid, members in grouped.items():
        first = members[0][1]
        number = first.get("SeriesNumber")
        found.append(SeriesInfo(
            uid, str(first.get("Modality", "")), str(first.get("SeriesDescription", "")),
            None if number in (None, "") else int(number), tuple(sorted(f for f, _ in members)),
            str(first.get("SOPClassUID", "")),
        ))  # fmt: skip
    return sorted(found, key=lambda s: (s.number is None, s.number or 0, s.uid))


def _from_dicomdir(path: Path) -> list[tuple[Path, Any]]:
    """(file, header) per instance a DICOMDIR lists; the description comes from the file's header."""
    pydicom = _pydicom()
    from pydicom.fileset import FileSet

    try:
        fileset = FileSet(pydicom.dcmread(path))
    except Exception as exc:  # pydicom raises many types for a damaged directory
        raise CorruptImageError(f"{path}: not a readable DICOMDIR ({exc})") from exc
    rows = []
    described: dict[str, Any] = {}
    for instance in fileset:
        file = Path(instance.path)
        uid = str(instance.SeriesInstanceUID)
        if uid not in described and file.is_file():  # one header per series for its description
            described[uid] = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=list(HEADER_TAGS))
        header = described.get(uid)
        record = {key: instance[key].value if key in instance else None for key in HEADER_TAGS}
        if header is not None:  # what the directory records leave out (descriptions are optional there)
            record |= {key: header.get(key) for key in HEADER_TAGS if record[key] in (None, "")}
        record["SOPClassUID"] = str(instance.ReferencedSOPClassUIDInFile)
        rows.append((file, record))
    return rows


def _from_folder(root: Path) -> list[tuple[Path, Any]]:
    pydicom = _pydicom()
    rows = []
    for folder, _dirs, names in os.walk(root):
        for name in sorted(names):
            file = Path(folder, name)
            if name.startswith(".") or name.upper() == "DICOMDIR" or not is_dicom(file):
                continue
            try:
                rows.append((file, pydicom.dcmread(file, stop_before_pixels=True, specific_tags=list(HEADER_TAGS))))
            except Exception:  # a damaged file is left out of the listing; opening it names the error
                continue
    return rows


class DicomDirSource:
    """One series of a DICOMDIR media set, opened by the backend for its kind (slide or volume)."""

    name = "dicomdir"
    rank = 95  # the best score probe() gives: a DICOMDIR is never an image itself

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        if os.path.isdir(path):  # the media set's root folder
            return 95 if os.path.isfile(os.path.join(path, "DICOMDIR")) else 0
        return 95 if is_dicomdir(path, head) else 0

    def __init__(self, path: str, *, series: str | None = None, **options: Any) -> None:
        directory = os.path.join(path, "DICOMDIR") if os.path.isdir(path) else path
        listed = list_series(directory)
        if series is None and len(listed) > 1:
            names = ", ".join(f"{s.uid} ({s.modality} {s.description!r}, {s.instances})" for s in listed)
            raise UnsupportedFormatError(f"{path}: {len(listed)} series; open one with series=UID: {names}")
        chosen = next((s for s in listed if series in (None, s.uid)), None)
        if chosen is None:
            raise UnsupportedFormatError(f"{path}: no series {series} in this media set")
        kind = DicomWsiSource if chosen.slide else DicomSource
        self._inner = kind.from_files(path, list(chosen.files), series=chosen.uid, **options)
        self.series = chosen.uid

    @property
    def levels(self) -> Sequence[LevelReader]:
        return self._inner.levels

    @property
    def metadata(self) -> Metadata:
        return self._inner.metadata

    def read_associated(self, name: str) -> np.ndarray:
        return self._inner.read_associated(name)

    def close(self) -> None:
        self._inner.close()
