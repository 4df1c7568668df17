"""Cohorts: ziggurat (Parquet + DuckDB, OME-Zarr) against radiobject (TileDB) on the same synthetic cohort.

``python -m bench cohort [--quick] [--subjects N] [--scale N]``

1. A BIDS folder of N subjects x 4 modalities of MRI-like int16 volumes (uncompressed NIfTI), ingested
   by both tools: ingest MB/s (raw voxel bytes / wall time), bytes on disk, open, lookup by id, filter
   query, a view of 10% of subjects, and one volume read through the cohort vs opening it directly.
2. A metadata-only scale run at ``--scale`` subjects (4 image rows each): ziggurat's tables written
   directly; radiobject's obs_meta ``Dataframe`` (the TileDB array its ``RadiObject.filter`` queries
   and its lookups read), timed with the same calls RadiObject makes on it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import DATA_DIR, Result, print_table, time_calls

MODALITIES = ("T1w", "T2w", "FLAIR", "T1gd")
DIAGNOSES = ("HGG", "LGG", "control")
WHERE_SQL = "age > 40 AND diagnosis = 'HGG'"
WHERE_TILEDB = "age > 40 and diagnosis == 'HGG'"


def subjects_frame(n: int, seed: int = 0) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "subject_id": [f"sub-{k:06d}" for k in range(n)],
            "age": rng.integers(18, 90, n).astype(np.int64),
            "sex": rng.choice(["F", "M"], n),
            "diagnosis": rng.choice(DIAGNOSES, n),
        }
    )


def write_dataset(root: Path, n: int, shape: tuple[int, int, int]) -> tuple[Path, int]:
    """A BIDS dataset of ``n`` subjects x 4 modalities (written once, reused); returns (root, raw bytes)."""
    import nibabel

    from ziggurat.testing.phantom import mri_volume

    raw = n * len(MODALITIES) * int(np.prod(shape)) * 2
    if (root / "participants.tsv").is_file():
        return root, raw
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    bases = [mri_volume(shape, seed=s) for s in range(8)]
    rng = np.random.default_rng(1)
    for k, sid in enumerate(subjects_frame(n).subject_id):
        folder = tmp / sid / "anat"
        folder.mkdir(parents=True)
        for m, modality in enumerate(MODALITIES):
            volume = bases[(k + m) % len(bases)] * (900 + 150 * m) + rng.normal(0, 12, shape)
            image = nibabel.Nifti1Image(volume.astype(np.int16).T, np.diag([1.2, 1.0, 1.0, 1.0]))
            nibabel.save(image, folder / f"{sid}_{modality}.nii")
    subjects_frame(n).rename(columns={"subject_id": "participant_id"}).to_csv(
        tmp / "participants.tsv", sep="\t", index=False
    )
    tmp.rename(root)
    return root, raw


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def measure(tool: str, calls: dict[str, Callable[[int], object]], repeat: int) -> list[Result]:
    """Each call timed ``repeat`` times; opens cold, the others after one warm-up call."""
    return [Result(case, tool, time_calls(call, repeat, 0 if "open" in case else 1)) for case, call in calls.items()]


def ingested(tool: str, seconds: float, raw: int, path: Path) -> Result:
    return Result("ingest (s)", tool, [seconds], {"MB/s": raw / 1e6 / seconds, "bytes": disk_bytes(path)})


def run_tools(src: Path, raw: int, n: int, work: Path, repeat: int) -> tuple[list[Result], list[str]]:
    import ziggurat
    from ziggurat.cohort import ingest

    results, notes = [], []
    ours = work / "ziggurat"
    seconds = timed(lambda: ingest(src, ours, workers=os.cpu_count()))
    results.append(ingested("ziggurat", seconds, raw, ours))
    sid = f"sub-{n // 2:06d}"
    cohort = ziggurat.Cohort(ours)
    results += measure("ziggurat", {
        "open": lambda i: len(ziggurat.Cohort(ours)),
        "open + first query": lambda i: ziggurat.Cohort(ours).query(WHERE_SQL).subjects,
        "lookup by id": lambda i: cohort.sql("SELECT * FROM subjects WHERE subject_id = ?", params=[sid]),
        "filter query": lambda i: cohort.query(WHERE_SQL).subjects,
        "view of 10%": lambda i: cohort.iloc[: n // 10].subjects,
        "read T1w via cohort": lambda i: cohort.loc[sid]["T1w"].to_numpy(),
        "read T1w directly": lambda i: ziggurat.open(cohort.path(f"{sid}_T1w")).to_numpy(),
    }, repeat)  # fmt: skip
    expected = cohort.query(WHERE_SQL).subjects
    truth = np.asarray(ziggurat.open(src / sid / "anat" / f"{sid}_T1w.nii").to_numpy())
    assert np.array_equal(cohort.loc[sid]["T1w"].to_numpy(), truth), "ziggurat: the cohort's T1w differs from the NIfTI"
    try:
        import radiobject
    except ImportError:
        notes.append("radiobject is not installed (pip install radiobject): its rows are missing")
        return results, notes
    theirs = str(work / "radiobject")
    frame = subjects_frame(n).rename(columns={"subject_id": "obs_subject_id"})
    images = {m: [(str(src / s / "anat" / f"{s}_{m}.nii"), s) for s in frame.obs_subject_id] for m in MODALITIES}
    seconds = timed(lambda: radiobject.RadiObject.from_niftis(theirs, images=images, obs_meta=frame))
    results.append(ingested("radiobject", seconds, raw, Path(theirs)))
    radi = radiobject.RadiObject(theirs)
    t1 = radi.collection("T1w")
    obs_id = next(o for o, s in zip(t1.obs_ids, t1.obs_subject_ids) if s == sid)
    results += measure("radiobject", {
        "open": lambda i: len(radiobject.RadiObject(theirs)),
        "open + first query": lambda i: radiobject.RadiObject(theirs).filter(WHERE_TILEDB).obs_subject_ids,
        "lookup by id": lambda i: radi.get_obs_row_by_obs_subject_id(sid),
        "filter query": lambda i: radi.filter(WHERE_TILEDB).obs_subject_ids,
        "view of 10%": lambda i: radi.iloc[: n // 10].obs_subject_ids,
        "read T1w via cohort": lambda i: radi.collection("T1w").loc[obs_id].to_numpy(),
    }, repeat)  # fmt: skip
    assert sorted(radi.filter(WHERE_TILEDB).obs_subject_ids) == expected, "the two tools' filters disagree"
    assert np.array_equal(np.asarray(t1.loc[obs_id].to_numpy()).T, truth) or np.array_equal(
        np.asarray(t1.loc[obs_id].to_numpy()), truth
    ), "radiobject: its T1w differs from the NIfTI"
    return results, notes


def run_scale(n: int, work: Path, repeat: int) -> list[Result]:
    """Metadata only: n subjects, 4 image rows each."""
    import pyarrow as pa

    import ziggurat
    from ziggurat.cohort.store import IMAGE_COLUMNS, write_tables

    subjects = subjects_frame(n, seed=2)
    ids = subjects.subject_id.tolist()
    image_rows = {c: pa.nulls(n * len(MODALITIES), pa.string()) for c in IMAGE_COLUMNS}
    image_rows |= {
        "image_id": pa.array([f"{s}_{m}" for s in ids for m in MODALITIES]),
        "subject_id": pa.array([s for s in ids for _ in MODALITIES]),
        "modality": pa.array([m for _ in ids for m in MODALITIES]),
        "uri": pa.array([f"images/{s}/{s}_{m}.zarr" for s in ids for m in MODALITIES]),
        "stored": pa.array([True] * (n * len(MODALITIES))),
    }
    root = work / "scale"
    write_tables(root, pa.Table.from_pandas(subjects, preserve_index=False), pa.table(image_rows))
    sid = ids[n // 2]
    cohort = ziggurat.Cohort(root)
    results = measure("ziggurat", {
        "scale: open": lambda i: len(ziggurat.Cohort(root)),
        "scale: open + first query": lambda i: ziggurat.Cohort(root).query(WHERE_SQL).subjects,
        "scale: lookup by id": lambda i: cohort.loc[sid].image_ids,
        "scale: filter query": lambda i: cohort.query(WHERE_SQL).subjects,
        "scale: view of 10%": lambda i: cohort.sample(n // 10, seed=i).subjects,
    }, repeat)  # fmt: skip
    expected = sorted(subjects[(subjects.age > 40) & (subjects.diagnosis == "HGG")].subject_id)
    assert cohort.query(WHERE_SQL).subjects == expected, "ziggurat's filter differs from pandas"
    try:
        from radiobject import Dataframe
    except ImportError:
        return results
    uri = str(work / "scale-radiobject")
    import tiledb

    schema = {
        c: np.dtype("U64") if subjects[c].to_numpy().dtype == object else subjects[c].to_numpy().dtype
        for c in ("age", "sex", "diagnosis")
    }
    Dataframe.create(uri, schema=schema)  # as RadiObject writes its obs_meta
    with tiledb.open(uri, "w") as array:
        keys = np.array(ids)
        array[keys, keys] = {c: subjects[c].to_numpy() for c in schema}

    def lookup(i: int) -> Any:  # RadiObject.get_obs_row_by_obs_subject_id on a stored cohort
        df = Dataframe(uri).read()
        return df[df["obs_subject_id"] == sid]

    results += measure("radiobject", {
        "scale: open": lambda i: len(Dataframe(uri)),
        "scale: open + first query": lambda i: list(Dataframe(uri).read(value_filter=WHERE_TILEDB)["obs_subject_id"]),
        "scale: lookup by id": lookup,
        "scale: filter query": lambda i: list(Dataframe(uri).read(value_filter=WHERE_TILEDB)["obs_subject_id"]),
        # RadiObject.sample on a stored cohort: its index of subject ids, then a subset
        "scale: view of 10%": lambda i: Dataframe(uri).read(columns=["obs_subject_id"])["obs_subject_id"].sample(
            n // 10, random_state=i),
    }, repeat)  # fmt: skip
    got = sorted(Dataframe(uri).read(value_filter=WHERE_TILEDB)["obs_subject_id"])
    assert got == expected, "radiobject's filter differs from pandas"
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cohort")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    n, scale, repeat = (8, 2000, 3) if args.quick else (args.subjects, args.scale, args.repeat)
    shape = (16, 24, 24) if args.quick else (32, 64, 64)
    src, raw = write_dataset(DATA_DIR / f"cohort-bids-{n}-{'x'.join(map(str, shape))}", n, shape)
    with tempfile.TemporaryDirectory(dir=DATA_DIR) as tmp:
        results, notes = run_tools(src, raw, n, Path(tmp), repeat)
        results += run_scale(scale, Path(tmp), repeat)
    print(
        f"cohort of {n} subjects x {len(MODALITIES)} modalities of {'x'.join(map(str, shape))} int16 "
        f"({raw / 1e6:.1f} MB of voxels); scale run: {scale:,} subjects, metadata only\n"
    )
    print_table([r for r in results if not r.case.startswith("ingest")])
    print("\n| ingest | tool | seconds | MB/s | bytes on disk |\n|---|---|---|---|---|")
    for r in results:
        if r.case.startswith("ingest"):
            print(f"| ingest | {r.tool} | {r.p50:.2f} | {r.extra['MB/s']:.1f} | {int(r.extra['bytes']):,} |")
    for note in notes:
        print(f"\nnote: {note}")
    return 0
