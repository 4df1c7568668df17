"""Served cohort folders: each image of a cohort's ``images`` table is one catalog entry.

A folder holding ``cohort.json`` is listed through its tables, not walked: its stored OME-Zarr
stores and the slides it references in place (possibly outside the served folder: the cohort names
them, and only those are served) become entries carrying their subject id, modality and the
subject's columns. ``where`` filters go through :meth:`ziggurat.Cohort.query` (DuckDB SQL).
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cohort import Cohort
from ..cohort.store import MANIFEST


@dataclass(frozen=True)
class CohortImage:
    """What the listing says of a cohort's image: its cohort, subject, modality and columns."""

    cohort: str  # the cohort folder's catalog id
    image: str  # the image's id inside the cohort
    subject: str
    modality: str | None
    columns: dict[str, Any] = field(default_factory=dict, compare=False)  # the subject's own columns

    def as_json(self) -> dict[str, Any]:
        return {"id": self.cohort, "image_id": self.image, "subject_id": self.subject,
                "modality": self.modality, "columns": self.columns}  # fmt: skip


def is_cohort(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def _plain(value: Any) -> Any:
    """A table value JSON can carry (dates and decimals as text)."""
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, bytes)):
        return str(value)
    return value


class Cohorts:
    """The served cohorts, each opened once per ``cohort.json`` version (a new table generation
    replaces that file, so an append shows up at the next rescan)."""

    def __init__(self) -> None:
        self._open: dict[Path, tuple[int, Cohort]] = {}

    def cohort(self, folder: Path) -> Cohort:
        version = (folder / MANIFEST).stat().st_mtime_ns
        held = self._open.get(folder)
        if held is None or held[0] != version:
            held = self._open[folder] = (version, Cohort(folder))
        return held[1]

    def images(self, folder: Path, cohort_id: str) -> list[tuple[str, Path, CohortImage]]:
        """(image id in the cohort, path, facts) of every image of the cohort at ``folder``."""
        cohort = self.cohort(folder)
        subjects = {row.pop("subject_id"): row for row in cohort.subjects_table("arrow").to_pylist()}
        table = cohort.sql("SELECT image_id, subject_id, modality, uri FROM images ORDER BY subject_id, image_id",
                           "arrow").to_pylist()  # fmt: skip
        return [
            (row["image_id"], cohort.root / row["uri"],
             CohortImage(cohort_id, row["image_id"], row["subject_id"], row["modality"],
                         {k: _plain(v) for k, v in subjects.get(row["subject_id"], {}).items()}))
            for row in table
        ]  # fmt: skip

    def select(self, folder: Path, where: str) -> set[str]:
        """The cohort's image ids that ``where`` keeps (duckdb.Error for a bad expression)."""
        return set(self.cohort(folder).query(where).image_ids)
