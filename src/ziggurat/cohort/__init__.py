"""Cohorts: subjects x modalities of slides and volumes in one folder, queried in SQL (DuckDB over Parquet).

A cohort is a folder holding its images (OME-Zarr written by ziggurat, or files referenced in place)
and two Parquet tables, ``subjects`` and ``images``. :class:`Cohort` opens one; every selection
returns an immutable, lazy :class:`View` (a set of subject and image ids the SQL is restricted to).
"""

from __future__ import annotations

import os
from typing import Any

from .ingest import IngestReport, ingest
from .store import CohortError
from .view import Cohort, View


def open(path: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> Cohort:
    """The cohort at ``path``: a folder, or a URL (``s3://bucket/cohort``) read from object storage."""
    return Cohort(path, storage_options)


__all__ = ["Cohort", "CohortError", "IngestReport", "View", "ingest", "open"]
