"""The cohort folder: ``cohort.json`` names the current table generation, written last and atomically.

Layout::

    cohort.json                  {"format": "ziggurat-cohort", "version": 1, "tables": "tables/000002", ...}
    tables/000002/subjects.parquet
    tables/000002/images.parquet
    images/<subject>/<image>.zarr  images written by ziggurat (others are referenced in place)

A new generation is written into a temporary folder and renamed into place, then ``cohort.json`` is
replaced: an interrupted write leaves the previous generation current (or, for a new cohort, no
``cohort.json``, so the folder never looks like a complete cohort). Writers hold
:func:`writer_lock`, so a second concurrent one fails at once instead of mixing generations.

A cohort on object storage (``s3://bucket/cohort``, ``https://…``) is read, never written in place
(a new one is built locally and published with :func:`publish`):
its manifest and tables are fetched through the io/ remote backend (:func:`~ziggurat.io.remote.store_for`),
so one configuration — ``storage_options`` or the AWS variables — serves the tables and the images.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ImageNotFoundError, ZigguratError
from ..io.atomic import atomic_path, output_lock
from ..io.locations import is_url, local_path, parse
from ..io.remote import store_for

FORMAT = "ziggurat-cohort"
VERSION = 1
MANIFEST = "cohort.json"
#: the images table's own columns, in order; anything else is a user column
IMAGE_COLUMNS = (
    "image_id",
    "subject_id",
    "session",
    "modality",
    "series",
    "uri",
    "stored",
    "source",
    "format",
    "axes",
    "shape",
    "scale",
    "units",
    "mpp_x",
    "mpp_y",
    "dtype",
    "levels",
    "nbytes",
    "sha256",
    "fg_fraction",
    "fg_mean",
    "fg_std",
)


class CohortError(ZigguratError, ValueError):
    """A folder that is not a (complete) cohort, or a selection that names nothing in it."""


class ReadOnlyCohortError(CohortError, PermissionError):
    """A write to a cohort on object storage (a PermissionError: callers that tolerate a read-only
    folder tolerate it too)."""


def safe_name(text: str) -> str:
    """``text`` as one path component (ids become folder names)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


#: a cohort's folder, or the URL of one on object storage (read only)
Root: TypeAlias = Path | str


def cohort_root(path: str | os.PathLike[str]) -> Root:
    """The root of the cohort at ``path``: a resolved local folder, or a URL (no trailing slash)."""
    if is_url(path):
        location = parse(path)
        return replace(location, key=location.key.rstrip("/")).url
    return Path(local_path(path)).resolve()


def locate(root: Root, uri: str) -> Root:
    """Where an image's ``uri`` is: a URL as it stands, else relative to the cohort (a URL's child)."""
    if is_url(uri):
        return uri
    if isinstance(root, str):
        return parse(root).child(uri).url
    return root / uri


def local_root(root: Root, what: str) -> Path:
    """``root`` as a local folder; CohortError naming ``what`` for a cohort on object storage."""
    if isinstance(root, str):
        raise ReadOnlyCohortError(f"{root}: a cohort on object storage is read only ({what} needs a local cohort)")
    return root


def fetch(root: Root, name: str) -> bytes:
    """The bytes of ``name`` inside a remote cohort (ImageNotFoundError when absent)."""
    location = parse(str(root)).child(name)
    return store_for(location).get(location.key)


def publish(local: Path, url: str, *, overwrite: bool) -> None:
    """Upload the complete local cohort ``local`` to ``url``, ``cohort.json`` last (io/upload.py's
    staged-then-publish: until then the URL is no complete cohort; objects the new one lacks go)."""
    from ..io.upload import upload_tree

    read_manifest(local)
    if not overwrite:
        refuse_existing(url)
    upload_tree(local, url, last=MANIFEST)


def refuse_existing(url: str) -> None:
    """CohortError when a complete cohort is at ``url`` (a half-published one is replaced)."""
    marker = parse(url).child(MANIFEST)
    if store_for(marker).exists(marker.key):
        raise CohortError(f"{url}: a cohort exists there (overwrite=True replaces it)")


@dataclass(frozen=True)
class Tables:
    """Where one generation of a cohort's tables lives."""

    root: Root
    generation: str

    @property
    def subjects(self) -> Path:
        return local_root(self.root, "reading a table file") / self.generation / "subjects.parquet"

    @property
    def images(self) -> Path:
        return local_root(self.root, "reading a table file") / self.generation / "images.parquet"

    def read(self, name: str) -> pa.Table:
        """The ``subjects`` or ``images`` table (of a remote cohort: one GET, tables are small)."""
        if isinstance(self.root, str):
            return pq.read_table(pa.BufferReader(fetch(self.root, f"{self.generation}/{name}.parquet")))
        return pq.read_table(self.root / self.generation / f"{name}.parquet")


@contextlib.contextmanager
def writer_lock(root: str | os.PathLike[str]) -> Iterator[None]:
    """The cohort's one writer (``.tables.lock`` inside it); OutputLockedError while another writes."""
    with output_lock(Path(root) / "tables"):
        yield


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    remote = is_url(root)
    path = parse(root).child(MANIFEST).url if remote else Path(root) / MANIFEST
    try:
        text = fetch(os.fspath(root), MANIFEST).decode("utf-8") if remote else Path(path).read_text(encoding="utf-8")
        manifest: dict[str, Any] = json.loads(text)
    except (FileNotFoundError, ImageNotFoundError):
        raise CohortError(
            f"{root}: not a complete cohort (no {MANIFEST}; an unfinished ingest resumes with the same command)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CohortError(f"{path}: unreadable cohort manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise CohortError(f"{path}: not a ziggurat cohort manifest")
    return manifest


def current_tables(root: str | os.PathLike[str]) -> Tables:
    manifest = read_manifest(root)
    return Tables(os.fspath(root) if is_url(root) else Path(root), manifest["tables"])


def _column(values: list[Any]) -> pa.Array:
    """One user column: Arrow's inference, or text when the values mix types (a sidecar may)."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values])


def to_table(rows: Sequence[Mapping[str, Any]], first: Sequence[str], key: str) -> pa.Table:
    """Rows (dicts) as a table sorted by ``key``: ``first`` columns in order, then user columns."""
    rows = sorted(rows, key=lambda r: str(r[key]))
    names = list(first) + sorted({k for r in rows for k in r} - set(first))
    columns = {}
    for name in names:
        values = [_clean(r.get(name)) for r in rows]
        columns[name] = _column(values)
    return pa.table(columns) if rows else pa.table({n: pa.array([], pa.string()) for n in first})


def _clean(value: Any) -> Any:
    """NaN (pandas' missing) as a real null; tuples as lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def write_tables(
    root: str | os.PathLike[str], subjects: pa.Table, images: pa.Table, extra: Mapping[str, Any] | None = None
) -> Tables:
    """Write a new generation of both tables, then switch ``cohort.json`` to it (atomically)."""
    base = Path(root)
    number = 1 + max((int(p.name) for p in (base / "tables").glob("[0-9]*") if p.name.isdigit()), default=0)
    generation = f"tables/{number:06d}"
    with atomic_path(base / generation, directory=True) as tmp:
        pq.write_table(subjects, Path(tmp) / "subjects.parquet", compression="zstd")
        pq.write_table(images, Path(tmp) / "images.parquet", compression="zstd")
    manifest = {"format": FORMAT, "version": VERSION, "tables": generation, "subjects": subjects.num_rows,
                "images": images.num_rows, **(extra or {})}  # fmt: skip
    with atomic_path(base / MANIFEST) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
    for old in (base / "tables").glob("[0-9]*"):  # the previous one, and any a killed writer left
        if old.name.isdigit() and f"tables/{old.name}" != generation:
            shutil.rmtree(old, ignore_errors=True)
    return Tables(base, generation)


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    return list(table.to_pylist())


def merge_rows(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows by ``key``; a new row's non-null values update the old one's."""
    merged = {r[key]: dict(r) for r in old}
    for row in new:
        target = merged.setdefault(row[key], {})
        target.update({k: v for k, v in row.items() if v is not None or k not in target})
    return list(merged.values())
