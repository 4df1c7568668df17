"""Ingest into a cohort: discover the items, convert or reference each one in parallel, journal every
finished item (a rerun after a crash skips them), then write the tables last."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..io.locations import is_url
from ..io.upload import staged
from ..model.image import Image, open_image
from ..writers.convert import to_omezarr
from .describe import describe, sha256
from .discover import Item, discover, guess_format
from .parallel import run_all
from .store import (
    IMAGE_COLUMNS,
    MANIFEST,
    Root,
    cohort_root,
    current_tables,
    local_root,
    merge_rows,
    publish,
    read_manifest,
    refuse_existing,
    rows_of,
    safe_name,
    to_table,
    write_tables,
    writer_lock,
)

JOURNAL = ".ingest-journal.jsonl"
#: a cohort is an archive: zstd-5 stores noisy MRI-like volumes ~13% smaller than convert's lz4hc-9
COMPRESSION = "zstd-5"


@dataclass
class IngestReport:
    """What an ingest did: images added (``resumed`` of them from an earlier, interrupted run), images
    already in the cohort, and every skipped file with the reason."""

    root: Root
    added: int = 0
    resumed: int = 0
    present: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)


def ingest(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: str | None = None,
    manifest: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: bool = False,
    compression: str = COMPRESSION,
) -> IngestReport:
    """Ingest a BIDS dataset, a DICOM tree or a folder of slides (``manifest``: CSV/TSV with columns
        ``slide``, ``subject`` and labels) into the cohort at ``out`` (created, or appended to). ``src``
    may be an object-store prefix of slides (with ``manifest``); ``out`` a URL where no cohort is yet
    (built locally, then published with ``cohort.json`` last).

        Volumes are stored as OME-Zarr under ``out/images`` (``compression``: see
        :data:`~ziggurat.writers.omezarr.ngff.COMPRESSIONS`); slides are referenced where they are. Runs on
        ``workers`` local processes or a dask.distributed ``client``; ``progress`` shows a bar on stderr.
    """
    if is_url(out):  # a new cohort on object storage: built in a staging folder, then published
        refuse_existing(os.fspath(out))
        with staged(out, "cohort") as (local, _):
            report = ingest(src, local, format=format, manifest=manifest, workers=workers, client=client,
                            progress=progress, compression=compression)  # fmt: skip
            publish(local, os.fspath(out), overwrite=False)
        report.root = cohort_root(out)
        return report
    source = os.fspath(src) if is_url(src) else Path(src)
    root = local_root(cohort_root(out), "ingest")
    plan = discover(source, format or guess_format(source, manifest), manifest)
    root.mkdir(parents=True, exist_ok=True)
    with writer_lock(root):  # a second ingest (or cohort run) into this cohort fails at once
        existing_subjects, existing_images = _existing(root)
        present = {r["image_id"] for r in existing_images}
        journal = root / JOURNAL
        done = _read_journal(journal)
        todo = [i for i in plan.items if i.image_id not in present and i.image_id not in done]
        report = IngestReport(root, resumed=len(done), present=sum(i.image_id in present for i in plan.items))
        report.bad = list(plan.bad)
        with open(journal, "a", encoding="utf-8") as log:
            for outcome in run_all(
                partial(ingest_item, root=str(root), compression=compression),
                todo,
                workers=workers,
                client=client,
                progress=progress,
                label="ingest",
            ):
                if "reason" in outcome:
                    report.bad.append((outcome["source"], outcome["reason"]))
                    continue
                done[outcome["image_id"]] = outcome
                log.write(json.dumps(outcome) + "\n")
                log.flush()
        report.added = len(done)
        subject_ids = {r["subject_id"] for r in done.values()}
        new_subjects = plan.subjects + [
            {"subject_id": s} for s in subject_ids - {s["subject_id"] for s in plan.subjects}
        ]
        subjects = merge_rows(existing_subjects, new_subjects, "subject_id")
        images = merge_rows(existing_images, done.values(), "image_id")
        write_tables(
            root,
            to_table(subjects, ["subject_id"], "subject_id"),
            to_table(images, IMAGE_COLUMNS, "image_id"),
            {"bad": [list(b) for b in report.bad]},
        )
        journal.unlink()
        _remove_partials(root)
    return report


def ingest_item(item: Item, root: str, compression: str = COMPRESSION) -> dict[str, Any]:
    """One image's row (stored as OME-Zarr when ``item.store``), or ``{source, reason}`` when bad."""
    try:
        with _opened(item.files) as image:
            row: dict[str, Any] = {
                "image_id": item.image_id,
                "subject_id": item.subject_id,
                "session": item.session,
                "modality": item.modality,
                "series": item.series,
                "source": item.files[0],
            }
            if item.store:
                relative = f"images/{safe_name(item.subject_id)}/{safe_name(item.image_id)}.zarr"
                # one writer thread: the processes are the parallelism
                to_omezarr(image, Path(root) / relative, compression=compression, workers=1)
                with open_image(Path(root) / relative) as stored:
                    row |= describe(image, stored) | {"uri": relative, "stored": True}
            else:
                where = item.files[0] if is_url(item.files[0]) else str(Path(item.files[0]).resolve())
                row |= describe(image) | {"uri": where, "stored": False}
        row["sha256"] = None if is_url(item.files[0]) else sha256(item.files)  # not a download per slide
        return row | item.columns
    except Exception as exc:  # a bad file is listed with its reason, never fatal to the run
        return {"source": item.files[0], "reason": f"{type(exc).__name__}: {exc}"}


@contextlib.contextmanager
def _opened(files: tuple[str, ...]) -> Iterator[Image]:
    """The image of one file, or of several (a DICOM series) gathered by symlinks into one folder."""
    if len(files) == 1:
        with open_image(files[0]) as image:
            yield image
        return
    with tempfile.TemporaryDirectory(prefix="ziggurat-series-") as folder:
        for k, path in enumerate(files):
            os.symlink(os.path.abspath(path), os.path.join(folder, f"{k:06d}.dcm"))
        with open_image(folder) as image:
            yield image


def _existing(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not (root / MANIFEST).is_file():
        return [], []
    read_manifest(root)
    import pyarrow.parquet as pq

    tables = current_tables(root)
    return rows_of(pq.read_table(tables.subjects)), rows_of(pq.read_table(tables.images))


def _read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """Finished items of an interrupted run; a torn last line (killed mid-write) is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                row = json.loads(line)
                done[row["image_id"]] = row
    return done


def _remove_partials(root: Path) -> None:
    """Temporaries of writes a killed run left behind (``io.atomic`` names them ``.NAME.partial-*``)."""
    for partial_dir in (root / "images").glob("*/.*.partial-*"):
        shutil.rmtree(partial_dir, ignore_errors=True)
