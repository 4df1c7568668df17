"""``ziggurat cohort ...`` end to end: ingest, query, run dzi on a 2-worker Dask LocalCluster, export."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

import ziggurat
from ziggurat.cli import main
from ziggurat.testing.cohorts import write_bids, write_slide_folder


@pytest.fixture(scope="module")
def slides(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_slide_folder(tmp_path_factory.mktemp("slides") / "s", slides=2, size=(600, 400))


def test_bids_ingest_query_export(realdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import nibabel

    nifti = realdata / "nifti" / "avg152T1_LR_nifti.nii.gz"
    src = write_bids(tmp_path / "ds", [nifti], subjects=5, modalities=("T1w", "FLAIR"))
    assert main(["cohort", "ingest", str(src), str(tmp_path / "c"), "--workers", "2", "-q"]) == 0
    assert "10 images added" in capsys.readouterr().out
    assert main(["cohort", "query", str(tmp_path / "c"), "SELECT subject_id FROM subjects WHERE age > 40 ORDER BY 1",
                 "--json"]) == 0  # fmt: skip
    participants = pd.read_csv(src / "participants.tsv", sep="\t")
    rows = json.loads(capsys.readouterr().out)
    assert [r["subject_id"] for r in rows] == sorted(participants[participants.age > 40].participant_id)
    assert main(["cohort", "query", str(tmp_path / "c"), "modality = 'FLAIR' AND sex = 'F'", "--csv"]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert sorted(table.subject_id) == sorted(participants[participants.sex == "F"].participant_id)
    assert main(["cohort", "info", str(tmp_path / "c"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["subjects"] == 5 and {m["modality"] for m in info["modalities"]} == {"T1w", "FLAIR"}
    assert main(["cohort", "export", str(tmp_path / "c"), str(tmp_path / "out"), "--where", "modality = 'T1w'"]) == 0
    exported = sorted((tmp_path / "out").glob("sub-*/anat/*.nii.gz"))
    assert len(exported) == 5 and (tmp_path / "out" / "images.csv").is_file()
    np.testing.assert_array_equal(
        np.asarray(nibabel.load(exported[0]).dataobj), np.asarray(nibabel.load(nifti).dataobj)
    )


def test_dzi_over_slides_on_a_local_cluster(slides: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from distributed import LocalCluster

    folder, manifest = slides
    out = tmp_path / "c"
    assert main(["cohort", "ingest", str(folder), str(out), "--manifest", str(manifest), "-q"]) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert main(["cohort", "run", str(out), "dzi", "--scheduler", cluster.scheduler_address, "-q"]) == 0
        assert "2 images done" in capsys.readouterr().out
        assert main(["cohort", "run", str(out), "dzi", "--scheduler", cluster.scheduler_address, "-q"]) == 0
        assert "0 images done, 2 already done" in capsys.readouterr().out
    images = ziggurat.Cohort(out).images_table()
    for row in images.itertuples():
        height, width = tifffile.TiffFile(row.uri).pages[0].shape[:2]
        dzi = ET.parse(out / row.dzi).getroot()
        size = dzi.find("{http://schemas.microsoft.com/deepzoom/2008}Size")
        assert size is not None and (int(size.get("Width", 0)), int(size.get("Height", 0))) == (width, height)
        assert (out / row.dzi.replace(".dzi", "_files") / "0" / f"0_0.{dzi.get('Format')}").is_file()


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cohort", "info", str(tmp_path)]) == 2
    assert "not a complete cohort" in capsys.readouterr().err
    assert main(["cohort", "ingest", str(tmp_path / "missing"), str(tmp_path / "c")]) == 2
