"""Cohorts against independent truths: participants.tsv read by pandas, pixels read by nibabel/pydicom."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ziggurat
from ziggurat.cohort import CohortError, ingest
from ziggurat.testing.cohorts import write_bids, write_slide_folder

NIFTIS = ("anatomical.nii", "avg152T1_LR_nifti.nii.gz", "example4d.nii.gz")
MODALITIES = ("T1w", "FLAIR", "bold")


@pytest.fixture(scope="module")
def bids(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    niftis = [realdata / "nifti" / n for n in NIFTIS]
    return write_bids(tmp_path_factory.mktemp("bids") / "ds", niftis, subjects=8, modalities=MODALITIES)


@pytest.fixture(scope="module")
def cohort(bids: Path, tmp_path_factory: pytest.TempPathFactory) -> ziggurat.Cohort:
    report = ingest(bids, tmp_path_factory.mktemp("cohorts") / "c", workers=2)
    assert report.bad == [] and report.added == 8 * len(MODALITIES)
    return ziggurat.Cohort(report.root)


@pytest.fixture(scope="module")
def participants(bids: Path) -> pd.DataFrame:
    return pd.read_csv(bids / "participants.tsv", sep="\t")


def test_tables_hold_participants_and_sidecars(cohort: ziggurat.Cohort, participants: pd.DataFrame) -> None:
    subjects = cohort.subjects_table()
    assert subjects["subject_id"].tolist() == participants["participant_id"].tolist()
    assert subjects["age"].tolist() == participants["age"].tolist()
    images = cohort.images_table()
    assert len(images) == 8 * len(MODALITIES)
    t1 = images[images.modality == "T1w"]
    assert set(t1.RepetitionTime) == {2.3} and set(t1.datatype) == {"anat"}
    assert set(images[images.modality == "bold"].datatype) == {"func"}
    assert all(len(h) == 64 for h in images.sha256) and images.fg_fraction.between(0, 1).all()
    assert cohort.subjects == participants["participant_id"].tolist()


@pytest.mark.parametrize(
    ("where", "truth"),
    [
        ("age > 40 AND diagnosis = 'HGG'", lambda p: (p.age > 40) & (p.diagnosis == "HGG")),
        ("sex = 'F' OR age < 30", lambda p: (p.sex == "F") | (p.age < 30)),
        ("age BETWEEN 30 AND 60", lambda p: p.age.between(30, 60)),
    ],
)
def test_query_matches_pandas(cohort: ziggurat.Cohort, participants: pd.DataFrame, where: str, truth: object) -> None:
    expected = sorted(participants[truth(participants)].participant_id)  # type: ignore[operator]
    view = cohort.query(where)
    assert view.subjects == expected
    assert sorted(view.image_ids) == sorted(f"{s}_{m}" if m != "bold" else f"{s}_task-rest_bold"
                                           for s in expected for m in MODALITIES)  # fmt: skip
    # the same expression on a view: restricted to the view's rows
    older = cohort.query("age > 40")
    assert older.query(where).subjects == sorted(set(expected) & set(older.subjects))


def test_query_over_images_and_outputs(cohort: ziggurat.Cohort, participants: pd.DataFrame) -> None:
    view = cohort.query("age > 40 AND modality = 'T1w'")
    expected = sorted(participants[participants.age > 40].participant_id)
    assert view.subjects == expected and view.image_ids == [f"{s}_T1w" for s in expected]
    counts = view.sql("SELECT modality, count(*) AS n FROM images GROUP BY 1", "polars")
    assert counts.to_dicts() == [{"modality": "T1w", "n": len(expected)}]
    arrow = cohort.sql("SELECT subject_id FROM subjects WHERE sex = ? ORDER BY 1", "arrow", ["M"])
    assert arrow.column(0).to_pylist() == sorted(participants[participants.sex == "M"].participant_id)


def test_loc_gives_ordinary_images(cohort: ziggurat.Cohort, realdata: Path) -> None:
    import nibabel

    t1 = cohort.loc["sub-01"]["T1w"]
    truth = np.asarray(nibabel.load(realdata / "nifti" / NIFTIS[0]).dataobj).T  # (z, y, x)
    np.testing.assert_array_equal(t1.axial(10), truth[10])
    np.testing.assert_array_equal(cohort.open("sub-01_T1w").to_numpy(), truth)
    with pytest.raises(KeyError):
        cohort["T1w"]  # one per subject: ambiguous on the whole cohort
    with pytest.raises(KeyError):
        cohort.loc["sub-99"]


def test_selections(cohort: ziggurat.Cohort, participants: pd.DataFrame) -> None:
    ids = participants.participant_id.tolist()
    assert cohort.iloc[2:5].subjects == ids[2:5] and cohort.iloc[[0, 7]].subjects == [ids[0], ids[7]]
    assert cohort.head(3).subjects == ids[:3] and len(cohort.head(3).image_ids) == 9
    sampled = cohort.sample(4, seed=3)
    assert sampled.subjects == cohort.sample(4, seed=3).subjects and len(set(sampled.subjects)) == 4
    flair = cohort.sel(modality="FLAIR")
    assert flair.image_ids == [f"{s}_FLAIR" for s in ids]
    both = cohort.sel(subject=["sub-01", "sub-02"], modality=["T1w", "bold"])
    assert both.image_ids == ["sub-01_T1w", "sub-01_task-rest_bold", "sub-02_T1w", "sub-02_task-rest_bold"]
    union = flair | cohort.sel(modality="T1w")
    assert set(union.image_ids) == {f"{s}_{m}" for s in ids for m in ("FLAIR", "T1w")}
    assert (flair & cohort.head(2)).image_ids == ["sub-01_FLAIR", "sub-02_FLAIR"]
    rest = cohort - flair
    assert len(rest.image_ids) == 16 and "sub-01_FLAIR" not in rest.image_ids and len(rest) == 8
    groups = cohort.groupby("diagnosis")
    for diagnosis, view in groups.items():
        assert view.subjects == sorted(participants[participants.diagnosis == diagnosis].participant_id)
    assert sorted(cohort.groupby("modality")) == sorted(MODALITIES)


def test_split_by_patient(cohort: ziggurat.Cohort, participants: pd.DataFrame) -> None:
    parts = cohort.split([0.5, 0.25, 0.25], seed=1)
    ids = [set(p.subjects) for p in parts]
    assert [len(s) for s in ids] == [4, 2, 2] and set.union(*ids) == set(cohort.subjects)
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    for part in parts:  # every image goes with its subject
        assert {i.split("_")[0] for i in part.image_ids} == set(part.subjects)
    assert [p.subjects for p in cohort.split([0.5, 0.25, 0.25], seed=1)] == [p.subjects for p in parts]
    stratified = cohort.split([0.5, 0.5], stratify="sex", seed=0)
    for sex, n in participants.sex.value_counts().items():
        got = [len(set(p.subjects) & set(participants[participants.sex == sex].participant_id)) for p in stratified]
        assert sorted(got) == sorted([n // 2, n - n // 2])
    with pytest.raises(CohortError):
        cohort.split([0.5, 0.6])


def test_views_pickle_small_and_write_only_their_images(cohort: ziggurat.Cohort, tmp_path: Path) -> None:
    view = cohort.query("age > 40").sel(modality="T1w")
    blob = pickle.dumps(view)
    assert len(blob) < 400 and pickle.loads(blob).image_ids == view.image_ids
    assert pickle.loads(pickle.dumps(cohort)).subjects == cohort.subjects
    copy = view.write(tmp_path / "older-t1")
    assert copy.image_ids == view.image_ids and copy.subjects == view.subjects
    assert sorted(p.name for p in (tmp_path / "older-t1" / "images").glob("*/*")) == sorted(
        f"{i}.zarr" for i in view.image_ids
    )
    np.testing.assert_array_equal(copy.open(view.image_ids[0]).to_numpy(), view.open(view.image_ids[0]).to_numpy())


def test_bad_files_are_listed_and_unfinished_cohorts_refused(bids: Path, tmp_path: Path) -> None:
    broken = tmp_path / "ds"
    write_bids(broken, sorted(bids.glob("sub-01/anat/*.nii*")), subjects=2, modalities=("T1w",))
    (broken / "sub-02" / "anat" / "sub-02_T1w.nii").write_bytes(b"not a nifti at all" * 40)
    (broken / "sub-01" / "anat" / "notbids.nii").write_bytes(b"x")
    report = ingest(broken, tmp_path / "c", workers=1)
    reasons = dict(report.bad)
    assert set(reasons) == {str(broken / "sub-02/anat/sub-02_T1w.nii"), str(broken / "sub-01/anat/notbids.nii")}
    assert "BIDS file name" in reasons[str(broken / "sub-01/anat/notbids.nii")]
    assert ziggurat.Cohort(tmp_path / "c").image_ids == ["sub-01_T1w"]
    (tmp_path / "half").mkdir()
    with pytest.raises(CohortError, match="not a complete cohort"):
        ziggurat.Cohort(tmp_path / "half")


def test_append_new_subjects_and_modalities(realdata: Path, tmp_path: Path) -> None:
    niftis = [realdata / "nifti" / NIFTIS[0]]
    first = ingest(write_bids(tmp_path / "a", niftis, subjects=2, modalities=("T1w",)), tmp_path / "c", workers=1)
    more = write_bids(tmp_path / "b", niftis, subjects=3, modalities=("T1w", "FLAIR"))
    cohort = ziggurat.Cohort(first.root)
    grown = cohort.append(more, workers=1)
    assert len(cohort) == 2 and len(grown) == 3  # the opened cohort is unchanged
    assert grown.image_ids == ["sub-01_FLAIR", "sub-01_T1w", "sub-02_FLAIR", "sub-02_T1w", "sub-03_FLAIR", "sub-03_T1w"]
    assert grown.subjects_table().age.notna().all()


def test_interrupted_ingest_resumes(realdata: Path, tmp_path: Path) -> None:
    bids = write_bids(tmp_path / "ds", [realdata / "nifti" / NIFTIS[1]], subjects=6, modalities=("T1w", "FLAIR"))
    out = tmp_path / "killed"
    code = f"from ziggurat.cohort import ingest; ingest({str(bids)!r}, {str(out)!r}, workers=1)"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    journal = out / ".ingest-journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.is_file() or journal.read_text().count("\n") < 3):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with pytest.raises(CohortError):
        ziggurat.Cohort(out)
    report = ingest(bids, out, workers=1)
    assert report.resumed >= 3 and report.added == 12
    cohort = ziggurat.Cohort(out)
    assert len(cohort.image_ids) == 12
    assert not list(out.glob("images/*/.*partial*")) and not journal.exists()


def test_dicom_tree(realdata: Path, tmp_path: Path) -> None:
    import pydicom

    src = realdata / "dicom"
    report = ingest(src, tmp_path / "c", format="dicom", workers=1)
    series = {}
    for path in src.rglob("*"):
        if path.is_file() and path.name != "DICOMDIR":
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            if "Rows" in ds:
                series[(ds.PatientID, ds.SeriesInstanceUID)] = ds.Modality
    cohort = ziggurat.Cohort(tmp_path / "c")
    images = cohort.images_table()
    assert len(images) + len({p for p, _ in report.bad}) >= len(series) >= len(images) > 5
    assert set(images.modality) <= set(series.values())
    ct = cohort.query("modality = 'CT' AND shape[1] = 28")  # the tilted head CT: 28 slices
    assert len(ct.image_ids) == 1
    image = cohort.open(ct.image_ids[0])
    first = pydicom.dcmread(next((src / "series-ct-ge-tilt").glob("*.dcm")))
    assert image.shape[-2:] == (first.Rows, first.Columns)


def test_slides_with_manifest(tmp_path: Path) -> None:
    folder, manifest = write_slide_folder(tmp_path / "slides", slides=4, size=(900, 700))
    report = ingest(folder, tmp_path / "c", manifest=manifest, workers=1)
    assert report.added == 4 and report.bad == []
    cohort = ziggurat.Cohort(tmp_path / "c")
    truth = pd.read_csv(manifest)
    assert cohort.subjects == sorted(set(truth.subject))
    images = cohort.images_table()
    assert not images.stored.any() and set(images.uri) == {str((folder / s).resolve()) for s in truth.slide}
    tumour = cohort.query("label = 'tumour'")
    assert sorted(tumour.image_ids) == sorted(s.split(".")[0] for s in truth[truth.label == "tumour"].slide)
    slide = cohort.loc["patient-00"].open("slide-000")
    assert slide.dimensions == (900, 700) and images.fg_fraction.gt(0.05).all() and images.mpp_x.eq(0.25).all()


def test_jobs_record_outputs(cohort: ziggurat.Cohort, realdata: Path, tmp_path: Path) -> None:
    import nibabel

    from ziggurat.cohort.jobs import run_job

    copy = cohort.sel(subject=["sub-01", "sub-02", "sub-03"]).write(tmp_path / "c")  # jobs change the tables
    t1 = copy.sel(subject=["sub-01", "sub-02"], modality="T1w")
    assert run_job(t1, "convert", options={"to": "nii.gz"}, workers=1).done == 2
    assert run_job(copy.sel(modality="T1w"), "thumbnails", workers=2).done == 3
    assert run_job(copy.sel(modality="T1w"), "thumbnails", workers=2).skipped == 3
    images = ziggurat.Cohort(copy.root).images_table().set_index("image_id")
    assert images.convert.notna().sum() == 2 and images.thumbnails.notna().sum() == 3
    truth = np.asarray(nibabel.load(realdata / "nifti" / NIFTIS[0]).dataobj)
    np.testing.assert_array_equal(np.asarray(nibabel.load(copy.root / images.convert["sub-01_T1w"]).dataobj), truth)
    assert (copy.root / images.thumbnails["sub-01_T1w"]).read_bytes()[:4] == b"\x89PNG"


def test_large_selections_and_with_queries(cohort: ziggurat.Cohort, participants: pd.DataFrame,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from ziggurat.cohort import engine

    monkeypatch.setattr(engine, "FEW", 1)  # every id set of 2+ goes through a table of ids
    view = cohort.query("age > 30").sel(modality=["T1w", "bold"])
    expected = sorted(participants[participants.age > 30].participant_id)
    assert view.subjects == expected and len(view.image_ids) == 2 * len(expected)
    counts = view.sql(
        "WITH n AS (SELECT subject_id, count(*) AS k FROM images GROUP BY 1) SELECT sum(k) FROM n", "arrow"
    )
    assert counts.column(0)[0].as_py() == 2 * len(expected)
    again = pickle.loads(pickle.dumps(view))  # a new database: the id tables are made again
    assert again.image_ids == view.image_ids and again.query("sex = 'F'").subjects == sorted(
        participants[(participants.age > 30) & (participants.sex == "F")].participant_id
    )
