"""What to ingest: a BIDS dataset, a DICOM tree or a folder of slides with a manifest, as subjects and
items (one per image), plus every file that was skipped and why."""

from __future__ import annotations

import csv
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError
from .store import CohortError, safe_name

FORMATS = ("bids", "dicom", "slides")
NIFTI = (".nii", ".nii.gz")
MISSING = {"", "n/a", "na", "nan", "none"}


@dataclass(frozen=True)
class Item:
    """One image to ingest: its ids, its source files, whether to store it as OME-Zarr in the cohort
    (else it is referenced in place), and its user columns."""

    image_id: str
    subject_id: str
    session: str | None
    modality: str
    series: str
    files: tuple[str, ...]
    store: bool
    columns: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass
class Plan:
    subjects: list[dict[str, Any]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def guess_format(src: Path | str, manifest: str | os.PathLike[str] | None) -> str:
    if manifest is not None or isinstance(src, str):  # a URL: only slides (see :func:`discover`)
        return "slides"
    if (src / "participants.tsv").is_file() or any(src.glob("sub-*")):
        return "bids"
    return "dicom"


def discover(src: Path | str, format: str, manifest: str | os.PathLike[str] | None = None) -> Plan:
    """The plan for ``src``: a local folder, or (slides with a manifest only) an object-store prefix (a URL)."""
    if isinstance(src, str):
        if format != "slides" or manifest is None:
            raise CohortError(f"{src}: an object-store prefix is ingested as slides with a manifest (--manifest)")
        return slides(src, Path(manifest))
    if not src.exists():
        raise CohortError(f"{src}: no such file or folder")
    if format == "bids":
        return bids(src)
    if format == "dicom":
        return dicom(src)
    if format == "slides":
        if manifest is None:
            raise CohortError(f"{src}: a folder of slides needs a manifest (CSV/TSV: slide, subject, labels...)")
        return slides(src, Path(manifest))
    raise CohortError(f"unknown cohort source format {format!r} (one of {', '.join(FORMATS)})")


def value(text: str | None) -> Any:
    """A table cell as int, float, or text; BIDS' ``n/a`` (and blanks) as null."""
    if text is None or text.strip().lower() in MISSING:
        return None
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_table(path: Path) -> list[dict[str, Any]]:
    """A CSV or TSV file (by extension; TSV when it has tabs) as typed rows."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CohortError(f"{path}: unreadable table ({exc})") from None
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in text.partition("\n")[0] else ","
    return [
        {k.strip(): value(v) for k, v in row.items() if k}
        for row in csv.DictReader(text.splitlines(), delimiter=delimiter)
    ]


# -- BIDS ----------------------------------------------------------------------------------
def bids(src: Path) -> Plan:
    plan = Plan()
    participants = src / "participants.tsv"
    known: dict[str, dict[str, Any]] = {}
    if participants.is_file():
        for row in read_table(participants):
            pid = str(row.pop("participant_id", "") or "")
            if not pid.startswith("sub-"):
                plan.bad.append((str(participants), f"row without a participant_id: {row}"))
                continue
            known[pid] = {"subject_id": pid, **row}
    for path in sorted(src.glob("sub-*/**/*")):
        if not path.name.endswith(NIFTI) or path.name.startswith("."):
            continue
        item = _bids_item(src, path, plan)
        if item is not None:
            plan.items.append(item)
            known.setdefault(item.subject_id, {"subject_id": item.subject_id})
    plan.subjects = list(known.values())
    return plan


def _bids_item(src: Path, path: Path, plan: Plan) -> Item | None:
    stem = path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.name[: -len(".nii")]
    parts = stem.split("_")
    entities = dict(p.split("-", 1) for p in parts[:-1] if "-" in p)
    subject = path.relative_to(src).parts[0]
    if not parts[0].startswith("sub-") or f"sub-{entities.get('sub')}" != subject or "-" in parts[-1]:
        plan.bad.append(
            (str(path), f"not a BIDS file name (sub-<label>[_ses-<label>]..._<suffix>.nii[.gz] in {subject}/)")
        )
        return None
    columns: dict[str, Any] = {"datatype": path.parent.name}
    sidecar = path.with_name(stem + ".json")
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            plan.bad.append((str(sidecar), f"unreadable JSON sidecar ({exc}); its image was skipped"))
            return None
        columns.update(
            {k: v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v) for k, v in meta.items()}
        )
    rest = "_".join(p for p in parts[1:-1] if not p.startswith("ses-"))
    session = entities.get("ses")
    return Item(
        stem,
        subject,
        None if session is None else f"ses-{session}",
        parts[-1],
        rest or "1",
        (str(path),),
        True,
        columns,
    )


# -- DICOM ---------------------------------------------------------------------------------
DICOM_SERIES_COLUMNS = ("SeriesDescription", "StudyDate", "StudyInstanceUID", "SeriesInstanceUID", "BodyPartExamined")


def dicom(src: Path) -> Plan:
    try:
        import pydicom
    except ImportError as exc:
        raise BackendUnavailableError("DICOM needs pydicom: pip install 'ziggurat[volumes]'") from exc
    plan = Plan()
    series: dict[tuple[str, str, str], list[tuple[str, Any]]] = defaultdict(list)
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in files:
        if path.name.upper() == "DICOMDIR":
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception as exc:  # pydicom raises many types for non-DICOM bytes
            plan.bad.append((str(path), f"not a DICOM file ({type(exc).__name__}: {exc})"))
            continue
        if "Rows" not in ds:
            continue  # not an image (a report, a presentation state)
        key = (
            str(ds.get("PatientID", "") or "unknown"),
            str(ds.get("StudyInstanceUID", "")),
            str(ds.get("SeriesInstanceUID", "")),
        )
        series[key].append((str(path), ds))
    subjects: dict[str, dict[str, Any]] = {}
    for (patient, study, uid), members in sorted(series.items()):
        first = members[0][1]
        subject = safe_name(patient)
        subjects.setdefault(
            subject,
            {
                "subject_id": subject,
                "sex": first.get("PatientSex") or None,
                "age": _dicom_age(str(first.get("PatientAge", ""))),
            },
        )
        number = str(first.get("SeriesNumber", "") or uid[-8:])
        columns = {c: str(first.get(c)) if first.get(c) is not None else None for c in DICOM_SERIES_COLUMNS}
        plan.items.append(
            Item(
                f"{subject}_{safe_name(uid or number)}",
                subject,
                study or None,
                str(first.get("Modality", "") or "OT"),
                number,
                tuple(sorted(p for p, _ in members)),
                True,
                columns,
            )
        )
    plan.subjects = list(subjects.values())
    return plan


def _dicom_age(text: str) -> float | None:
    """DICOM AS ("045Y", "006M") in years."""
    match = re.fullmatch(r"(\d{3})([DWMY])", text.strip())
    if not match:
        return None
    return int(match[1]) / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[match[2]]


# -- slides --------------------------------------------------------------------------------
def slides(src: Path | str, manifest: Path) -> Plan:
    """Slides listed in a manifest (columns ``slide`` and ``subject``, optional ``modality``, then
    labels), referenced in place: under a local folder, or under an object-store prefix (a URL; one
    listing finds them, their rows point at their URLs)."""
    listed = _listed(src) if isinstance(src, str) else {}
    plan = Plan()
    subjects: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(read_table(manifest), start=2):
        slide, subject = row.pop("slide", None), row.pop("subject", row.pop("subject_id", None))
        if slide is None or subject is None:
            plan.bad.append((f"{manifest}:{number}", "row without a slide or subject"))
            continue
        if isinstance(src, str):
            found = listed.get(str(slide).strip("/"))
            where = found or f"{src.rstrip('/')}/{slide}"
        else:
            where = str((src / str(slide)).resolve())
            found = where if os.path.exists(where) else None
        if found is None:
            plan.bad.append((where, f"listed in {manifest.name} line {number} but missing"))
            continue
        subject = str(subject)
        subjects.setdefault(subject, {"subject_id": subject})
        modality = str(row.pop("modality", None) or "slide")
        image_id = safe_name(found.rsplit("/", 1)[-1].split(".")[0])
        plan.items.append(Item(image_id, subject, None, modality, "1", (found,), False, row))
    plan.subjects = list(subjects.values())
    return plan


def _listed(prefix: str) -> dict[str, str]:
    """Slide name relative to ``prefix`` -> URL, from one listing (:func:`~ziggurat.io.listing.list_images`)."""
    from ..io.listing import list_images

    return {name.split("/", 1)[1]: url for name, url, _ in list_images(prefix)}
