"""Cohorts on object storage (one moto S3 server for the module): an S3 cohort answers as the local one
it was uploaded from, and its images (stored in it, or slides it points at) have the local files' pixels."""

from __future__ import annotations

import json
import pickle
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.cli import main
from ziggurat.cohort import CohortError, ingest
from ziggurat.cohort.jobs import run_job
from ziggurat.cohort.store import ReadOnlyCohortError
from ziggurat.testing.cohorts import write_bids, write_slide_folder
from ziggurat.testing.s3 import LocalS3

WHERE = "age > 30 AND modality = 'T1w'"
DOC = Path(__file__).resolve().parents[2] / "docs" / "cohorts.md"


@pytest.fixture(scope="module")
def s3() -> Iterator[LocalS3]:
    pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
    pytest.importorskip("obstore", reason="obstore is in the remote extra")
    with LocalS3("cohort-tests") as server, pytest.MonkeyPatch.context() as patch:
        for name, text in server.environment().items():  # the one io/ configuration: the AWS variables
            patch.setenv(name, text)
        yield server


@pytest.fixture(scope="module")
def local(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> ziggurat.Cohort:
    src = write_bids(tmp_path_factory.mktemp("bids") / "ds", [realdata / "nifti" / "anatomical.nii"], subjects=4)
    return ziggurat.Cohort(ingest(src, tmp_path_factory.mktemp("cohorts") / "c", workers=1).root)


@pytest.fixture(scope="module")
def remote(s3: LocalS3, local: ziggurat.Cohort) -> ziggurat.Cohort:
    return ziggurat.cohort.open(s3.upload(local.root, "studies/bids") + "/")


def test_queries_equal_the_local_cohorts(local: ziggurat.Cohort, remote: ziggurat.Cohort) -> None:
    assert remote.root == "s3://cohort-tests/studies/bids" and len(remote) == len(local) == 4
    assert remote.query(WHERE).image_ids == local.query(WHERE).image_ids != []
    sql = "SELECT modality, count(*) AS n, sum(nbytes) AS b FROM images GROUP BY 1 ORDER BY 1"
    assert remote.sql(sql, "arrow").equals(local.sql(sql, "arrow"))
    assert remote.images_table().equals(local.images_table())
    view = pickle.loads(pickle.dumps(remote.query(WHERE)))  # what a data-loader worker gets
    assert view.root == remote.root and view.image_ids == local.query(WHERE).image_ids


def test_stored_images_open_from_the_bucket(local: ziggurat.Cohort, remote: ziggurat.Cohort) -> None:
    image_id = local.query(WHERE).image_ids[0]
    assert remote.path(image_id) == f"{remote.root}/images/{image_id.split('_')[0]}/{image_id}.zarr"
    with remote.open(image_id) as image, local.open(image_id) as truth:
        assert np.array_equal(image.to_numpy(), truth.to_numpy())


def test_cli_query_on_s3(local: ziggurat.Cohort, remote: ziggurat.Cohort, capsys: pytest.CaptureFixture[str]) -> None:
    answers = []
    for where in (str(local.root), "s3://cohort-tests/studies/bids"):
        assert main(["cohort", "query", where, WHERE, "--json"]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0] == answers[1] != []


def test_writes_are_refused(remote: ziggurat.Cohort, tmp_path: Path) -> None:
    with pytest.raises(ReadOnlyCohortError, match="cohort-tests/studies/bids: a cohort on object storage is read"):
        remote.append(tmp_path)
    with pytest.raises(ReadOnlyCohortError):
        run_job(remote, "thumbnails")
    with pytest.raises(PermissionError):  # what the ML datasets tolerate
        remote.write(tmp_path / "copy")
    with pytest.raises(CohortError, match="cohort-tests/nothing: not a complete cohort"):
        ziggurat.cohort.open("s3://cohort-tests/nothing")


def test_ingest_slides_from_a_prefix(s3: LocalS3, tmp_path: Path) -> None:
    folder, manifest = write_slide_folder(tmp_path / "slides", slides=2, size=(600, 400))
    prefix = s3.upload(folder, "scans/run1")
    # two workers: forked ones would hang in obstore once the listing ran, so the pool spawns them
    report = ingest(prefix, tmp_path / "c", manifest=manifest, workers=2)
    assert report.added == 2 and report.bad == []
    cohort = ziggurat.Cohort(report.root)
    uris = cohort.sql("SELECT uri FROM images ORDER BY 1", "arrow").column(0).to_pylist()
    assert uris == [f"{prefix}/slide-000.tif", f"{prefix}/slide-001.tif"]
    # published as is, the cohort's rows still point at the slides' URLs
    published = ziggurat.cohort.open(s3.upload(report.root, "studies/slides"))
    with published.open("slide-001") as slide:
        assert np.array_equal(slide.to_numpy(), tifffile.imread(folder / "slide-001.tif", level=0))
    assert published.query("label IS NOT NULL").image_ids == ["slide-000", "slide-001"]


def test_prefix_needs_a_manifest_and_names_missing_slides(s3: LocalS3, tmp_path: Path) -> None:
    with pytest.raises(CohortError, match="ingested as slides with a manifest"):
        ingest("s3://cohort-tests/scans", tmp_path / "c", format="bids")
    manifest = tmp_path / "m.csv"
    manifest.write_text("slide,subject\nabsent.svs,p1\n")
    report = ingest("s3://cohort-tests/empty", tmp_path / "c", manifest=manifest, workers=1)
    assert report.bad == [("s3://cohort-tests/empty/absent.svs", "listed in m.csv line 2 but missing")]


def test_ingest_and_write_publish_to_s3(s3: LocalS3, local: ziggurat.Cohort, tmp_path: Path) -> None:
    folder, manifest = write_slide_folder(tmp_path / "slides", slides=2, size=(600, 400))
    report = ingest(folder, "s3://cohort-tests/published/slides", manifest=manifest, workers=1)
    assert report.root == "s3://cohort-tests/published/slides" and report.added == 2
    keys = s3.keys("published/slides/")
    assert sorted(k.rsplit("/", 1)[-1] for k in keys) == ["cohort.json", "images.parquet", "subjects.parquet"]
    assert ziggurat.cohort.open(report.root).image_ids == ["slide-000", "slide-001"]
    with pytest.raises(CohortError, match="published/slides: a cohort exists there"):
        ingest(folder, report.root, manifest=manifest, workers=1)
    # a view with stored images, published: its OME-Zarr stores open from the bucket
    view = local.query(WHERE)
    subset = view.write("s3://cohort-tests/published/subset")
    assert subset.image_ids == view.image_ids and subset.sql("SELECT * FROM subjects").equals(view.subjects_table())
    with subset.open(view.image_ids[0]) as image, local.open(view.image_ids[0]) as truth:
        assert np.array_equal(image.to_numpy(), truth.to_numpy())
    assert set(view.subjects) - {"sub-01"}  # replaced next by a cohort without them: their objects go
    smaller = local.query("age > 1000 OR subject_id = 'sub-01'").write(subset.root, overwrite=True)
    assert smaller.subjects == ["sub-01"]
    assert not any("sub-0" in k and "sub-01" not in k for k in s3.keys("published/subset/images/"))


def test_docs_commands(
    s3: LocalS3, remote: ziggurat.Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/cohorts.md's shell lines, on this module's server (its endpoint is in the environment)."""
    section = DOC.read_text(encoding="utf-8").split("## Object storage", 1)[1]
    block = re.search(r"```\n(AWS_ENDPOINT_URL.*?)```", section, re.S)
    assert block is not None
    folder, manifest = write_slide_folder(tmp_path / "slides", slides=2, size=(600, 400))
    names = {"s3://my-bucket/study": str(remote.root), "s3://my-bucket/scans": s3.upload(folder, "docs/scans"),
             "s3://my-bucket/slides": s3.url("docs/slides"), "manifest.csv": str(manifest)}  # fmt: skip
    for line in block.group(1).strip().splitlines():
        argv = [names.get(word, word) for word in shlex.split(line)[2:]]  # after VARIABLE=… ziggurat
        assert main(argv) == 0, line
    out = capsys.readouterr().out
    assert "4 subjects" in out and "2 images added" in out
    assert ziggurat.cohort.open(s3.url("docs/slides")).image_ids == ["slide-000", "slide-001"]
