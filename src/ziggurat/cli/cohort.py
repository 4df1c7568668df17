"""``ziggurat cohort ingest|info|query|export|run``: build, inspect, query and process cohorts."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cohort = commands.add_parser("cohort", help="cohorts of subjects x images: ingest, info, query, export, run")
    sub = cohort.add_subparsers(dest="cohort_command", required=True)

    ingest = sub.add_parser("ingest", help="ingest a BIDS dataset, a DICOM tree or slides + manifest into OUT")
    ingest.add_argument("src")
    ingest.add_argument("out")
    ingest.add_argument("--format", choices=("bids", "dicom", "slides"), help="default: guessed from SRC")
    ingest.add_argument("--manifest", help="CSV/TSV of slides: slide, subject, labels...")
    _parallel(ingest)
    ingest.set_defaults(run=_ingest)

    info = sub.add_parser("info", help="subjects, images per modality, formats, bytes")
    info.add_argument("cohort")
    info.add_argument("--json", action="store_true")
    info.set_defaults(run=_info)

    query = sub.add_parser("query", help="SQL over the subjects and images tables (or a WHERE condition)")
    query.add_argument("cohort")
    query.add_argument("sql", help="SELECT ... FROM subjects/images, or a condition: \"age > 40 AND modality = 'T1w'\"")
    out = query.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="rows as a JSON list")
    out.add_argument("--csv", action="store_true", help="rows as CSV")
    query.set_defaults(run=_query)

    export = sub.add_parser("export", help="volumes as NIfTI in a BIDS-like folder, tables as CSV")
    export.add_argument("cohort")
    export.add_argument("out")
    export.add_argument("--where", help="only the subjects/images matching this SQL condition")
    export.set_defaults(run=_export)

    run = sub.add_parser("run", help="apply a job to every image; outputs are recorded in the images table")
    run.add_argument("cohort")
    run.add_argument("job", choices=("dzi", "pyramid", "thumbnails", "convert"))
    run.add_argument("--where", help="only the images matching this SQL condition")
    run.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the job's writer (dzi: tile_size=256, convert: to=zarr, ...)",
    )
    _parallel(run)
    run.set_defaults(run=_run)


def _parallel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, help="local processes (default: all cores)")
    parser.add_argument("--scheduler", help="a dask.distributed scheduler address (tcp://host:8786)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _ingest(args: argparse.Namespace) -> None:
    from ..cohort import ingest

    report = ingest(
        args.src,
        args.out,
        format=args.format,
        manifest=args.manifest,
        workers=args.workers,
        client=args.scheduler,
        progress=_progress(args),
    )
    for path, reason in report.bad:
        print(f"ziggurat: skipped {path}: {reason}", file=sys.stderr)
    resumed = f" ({report.resumed} from an interrupted run)" if report.resumed else ""
    print(
        f"{report.root}: {report.added} images added{resumed}, {report.present} already present, "
        f"{len(report.bad)} skipped"
    )


def _info(args: argparse.Namespace) -> None:
    from ..cohort import Cohort

    cohort = Cohort(args.cohort)
    counts = cohort.sql(
        "SELECT modality, format, count(*) AS images, sum(nbytes)::BIGINT AS nbytes, "
        "count(DISTINCT subject_id) AS subjects FROM images GROUP BY ALL ORDER BY ALL",
        "arrow",
    )
    facts = {
        "cohort": str(cohort.root),
        "subjects": len(cohort),
        "images": len(cohort.image_ids),
        "modalities": counts.to_pylist(),
        "subject_columns": cohort.sql("SELECT * FROM subjects LIMIT 0", "arrow").column_names,
    }
    if args.json:
        print(json.dumps(facts, indent=2))
        return
    print(f"{facts['cohort']}: {facts['subjects']} subjects, {facts['images']} images")
    for row in facts["modalities"]:
        print(
            f"  {row['modality']:<12} {row['format']:<16} {row['images']:>6} images of {row['subjects']} subjects, "
            f"{row['nbytes'] / 1e6:,.1f} MB of pixels"
        )
    print(f"  subject columns: {', '.join(facts['subject_columns'])}")


def _query(args: argparse.Namespace) -> None:
    from ..cohort import Cohort

    cohort = Cohort(args.cohort)
    statement = args.sql.strip()
    if statement.split(None, 1)[0].upper() not in ("SELECT", "WITH", "FROM", "DESCRIBE", "SUMMARIZE"):
        statement = f"SELECT * FROM subjects JOIN images USING (subject_id) WHERE {statement} ORDER BY image_id"
    if not (args.json or args.csv):
        print(cohort.sql(statement).to_string(index=False, max_colwidth=48))
        return
    rows = cohort.sql(statement, "arrow").to_pylist()
    if args.json:
        print(json.dumps(rows, default=str))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()} for r in rows)


def _view(args: argparse.Namespace) -> Any:
    from ..cohort import Cohort

    cohort = Cohort(args.cohort)
    return cohort.query(args.where) if args.where else cohort


def _export(args: argparse.Namespace) -> None:
    from ..cohort.export import export

    written = export(_view(args), args.out)
    print(f"wrote {len(written)} NIfTI files and subjects.csv, images.csv to {args.out}")


def _run(args: argparse.Namespace) -> None:
    from ..cohort.discover import value
    from ..cohort.jobs import run_job

    options = {}
    for pair in args.option:
        key, sep, text = pair.partition("=")
        if not sep:
            raise ValueError(f"--option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value(text)
    report = run_job(
        _view(args), args.job, options=options, workers=args.workers, client=args.scheduler, progress=_progress(args)
    )
    for image_id, reason in report.failed:
        print(f"ziggurat: {args.job} failed on {image_id}: {reason}", file=sys.stderr)
    print(f"{args.job}: {report.done} images done, {report.skipped} already done, {len(report.failed)} failed")
