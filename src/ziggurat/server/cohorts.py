"""Served cohort folders: each image of a cohort's ``images`` table is one catalog entry.

A folder holding ``cohort.json`` is listed through its tables, not walked: its stored OME-Zarr
stores and the slides it references in place (possibly outside the served folder: the cohort names
them, and only those are served) become entries carrying their subject id, modality and the
subject's columns. ``where`` filters go through :meth:`ziggurat.Cohort.query` (DuckDB SQL) once
DuckDB's own parser has shown them to be one plain condition: a second statement (``1=1; COPY …``
would run) or a subquery or table function (``read_text('/etc/…')``) is refused, since the text
comes from any HTTP client.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..cohort import Cohort, CohortError
from ..cohort.engine import database
from ..cohort.store import MANIFEST


class BadCondition(ValueError):
    """A ``where`` text that is not one plain SQL condition over the cohort's columns."""


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a parsed-SQL JSON tree."""
    if isinstance(tree, dict):
        yield tree
        tree = list(tree.values())
    if isinstance(tree, list):
        for child in tree:
            yield from _nodes(child)


def check_condition(where: str) -> None:
    """BadCondition unless ``where`` parses as the WHERE of one SELECT, with no subquery or table function."""
    cur = database().cursor()
    try:
        row = cur.execute("SELECT json_serialize_sql(?)", [f"SELECT 1 FROM subjects WHERE {where}"]).fetchone()
    finally:
        cur.close()
    parsed: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if parsed.get("error"):
        raise BadCondition(parsed.get("error_message", "not SQL"))
    statements = parsed["statements"]
    node = statements[0]["node"] if len(statements) == 1 else {}
    if node.get("type") != "SELECT_NODE" or node.get("modifiers") or node.get("group_expressions"):
        raise BadCondition("not one condition (a second statement, ORDER BY, LIMIT or GROUP BY)")
    if any(n.get("class") == "SUBQUERY" or n.get("type") == "TABLE_FUNCTION" for n in _nodes(node)):
        raise BadCondition("subqueries and table functions are not allowed in a served filter")


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
        self._listed: dict[Path, tuple[Cohort, list[tuple[str, Path, CohortImage]]]] = {}  # by cohort opened

    def cohort(self, folder: Path) -> Cohort:
        version = (folder / MANIFEST).stat().st_mtime_ns
        held = self._open.get(folder)
        if held is None or held[0] != version:
            held = self._open[folder] = (version, Cohort(folder))
        return held[1]

    def images(self, folder: Path, cohort_id: str) -> list[tuple[str, Path, CohortImage]]:
        """(image id in the cohort, path, facts) of every image of the cohort at ``folder`` (read once
        per table generation); CohortError if its tables do not read."""
        cohort = self.cohort(folder)
        held = self._listed.get(folder)
        if held is not None and held[0] is cohort:
            return held[1]
        try:
            subjects = {row.pop("subject_id"): row for row in cohort.subjects_table("arrow").to_pylist()}
            table = cohort.sql("SELECT image_id, subject_id, modality, uri FROM images ORDER BY subject_id, image_id",
                               "arrow").to_pylist()  # fmt: skip
        except duckdb.Error as exc:
            raise CohortError(f"{folder}: unreadable cohort tables ({exc})") from None
        listing = [
            (row["image_id"], cohort.root / row["uri"],
             CohortImage(cohort_id, row["image_id"], row["subject_id"], row["modality"],
                         {k: _plain(v) for k, v in subjects.get(row["subject_id"], {}).items()}))
            for row in table
        ]  # fmt: skip
        self._listed[folder] = (cohort, listing)
        return listing

    def select(self, folder: Path, where: str) -> set[str]:
        """The cohort's image ids that ``where`` keeps (BadCondition, with DuckDB's message, for a bad one)."""
        check_condition(where)
        try:
            return set(self.cohort(folder).query(where).image_ids)
        except duckdb.Error as exc:
            raise BadCondition(str(exc)) from None
