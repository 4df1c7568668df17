"""Cohort-wide jobs: one writer applied to every image of a cohort or view, on local processes or a
Dask cluster, resumable, with each output recorded in the images table (a column named after the job).

Outputs go under ``COHORT/outputs/<job>/`` (paths relative to the cohort, like stored images). An
image whose column is already set and whose output exists is skipped; each finished image is
journaled, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..model.image import open_image
from ..model.planes import plane
from ..sources.base import SLIDE_AXES
from ..writers.convert import convert
from ..writers.dzi import write_dzi
from ..writers.omezarr.builder import build_pyramid
from .parallel import run_all
from .store import cohort_root, current_tables, local_root, read_manifest, safe_name, write_tables, writer_lock
from .view import View

JOBS = ("dzi", "pyramid", "thumbnails", "convert")


@dataclass
class JobReport:
    """Images done now, already done before, and failed (image id, reason)."""

    job: str
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def _dzi(path: Path, out: Path, options: Mapping[str, Any]) -> str:
    write_dzi(path, out, overwrite=True, workers=1, **options)
    return f"{out.name}.dzi"


def _pyramid(path: Path, out: Path, options: Mapping[str, Any]) -> str:
    build_pyramid(path, out.with_suffix(".zarr"), workers=1, **options)
    return f"{out.name}.zarr"


def _convert(path: Path, out: Path, options: Mapping[str, Any]) -> str:
    suffix = str(options.get("to", "nii.gz"))
    convert(path, out.with_name(f"{out.name}.{suffix}"), workers=1)
    return f"{out.name}.{suffix}"


def _thumbnail(path: Path, out: Path, options: Mapping[str, Any]) -> str:
    """A PNG of the whole slide, or of a volume's middle axial plane, no larger than ``size``."""
    from ..io.atomic import atomic_path
    from ..tiles.service import TileService

    size = int(options.get("size", 256))
    with open_image(path) as image:
        data = TileService().thumbnail(plane(image, None if image.axes == SLIDE_AXES else "z"), size, encoding="png")
    with atomic_path(out.with_suffix(".png")) as tmp, open(tmp, "wb") as fh:
        fh.write(data if isinstance(data, bytes) else bytes(data))
    return f"{out.name}.png"


WRITERS: dict[str, Callable[[Path, Path, Mapping[str, Any]], str]] = {
    "dzi": _dzi,
    "pyramid": _pyramid,
    "thumbnails": _thumbnail,
    "convert": _convert,
}


def run_one(task: tuple[str, str], *, root: str, job: str, options: Mapping[str, Any]) -> dict[str, str]:
    """Apply ``job`` to one image: {image_id, output} (relative to the cohort) or {image_id, reason}."""
    image_id, uri = task
    folder = Path(root) / "outputs" / job
    folder.mkdir(parents=True, exist_ok=True)
    try:
        name = WRITERS[job](Path(root) / uri, folder / safe_name(image_id), options)
    except Exception as exc:  # one bad image is reported, the run goes on
        return {"image_id": image_id, "reason": f"{type(exc).__name__}: {exc}"}
    return {"image_id": image_id, "output": f"outputs/{job}/{name}"}


def run_job(
    view: View,
    job: str,
    *,
    options: Mapping[str, Any] | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: bool = False,
) -> JobReport:
    """Run ``job`` (one of :data:`JOBS`) over every image of ``view``; record outputs in column ``job``."""
    if job not in WRITERS:
        raise ValueError(f"unknown cohort job {job!r} (one of {', '.join(JOBS)})")
    root = local_root(view.root, f"cohort run {job}")
    rows = view.sql("SELECT image_id, uri FROM images ORDER BY image_id", "arrow").to_pylist()
    current = pq.read_table(current_tables(root).images)  # the view may predate an earlier run's outputs
    recorded = (
        dict(zip(current.column("image_id").to_pylist(), current.column(job).to_pylist()))
        if job in (current.column_names)
        else {}
    )
    journal = root / f".job-{job}-journal.jsonl"
    done = _read(journal)
    previous = {i: out for i, out in recorded.items() if out and (root / out).exists()}
    todo = [(r["image_id"], r["uri"]) for r in rows if r["image_id"] not in previous and r["image_id"] not in done]
    report = JobReport(job, skipped=sum(r["image_id"] in previous or r["image_id"] in done for r in rows))
    work = partial(run_one, root=str(root), job=job, options=dict(options or {}))
    with open(journal, "a", encoding="utf-8") as log:
        for result in run_all(work, todo, workers=workers, client=client, progress=progress, label=job):
            if "reason" in result:
                report.failed.append((result["image_id"], result["reason"]))
                continue
            done[result["image_id"]] = result["output"]
            log.write(json.dumps(result) + "\n")
            log.flush()
            report.done += 1
    record_column(root, job, done)
    journal.unlink()
    return report


def _read(journal: Path) -> dict[str, str]:
    done: dict[str, str] = {}
    if journal.is_file():
        for line in journal.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError, KeyError):
                row = json.loads(line)
                done[row["image_id"]] = row["output"]
    return done


def record_column(root: str | os.PathLike[str], job: str, outputs: Mapping[str, str]) -> None:
    """A new table generation whose images have their ``job`` column set (others keep theirs): the
    outputs of a job, or what the ML datasets compute once per image (a slide's tissue mask)."""
    root = local_root(cohort_root(root), "recording a column")
    with writer_lock(root):  # not while an ingest (or another run) writes the tables
        tables = current_tables(root)
        images = pq.read_table(tables.images)
        old = images.column(job).to_pylist() if job in images.column_names else [None] * images.num_rows
        values = [outputs.get(i, o) for i, o in zip(images.column("image_id").to_pylist(), old)]
        images = images.drop_columns([job]) if job in images.column_names else images
        extra = {
            k: v
            for k, v in read_manifest(root).items()
            if k not in ("format", "version", "tables", "subjects", "images")
        }
        write_tables(
            root, pq.read_table(tables.subjects), images.append_column(job, pa.array(values, pa.string())), extra
        )
