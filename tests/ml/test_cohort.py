"""Datasets over a Cohort and its views: modalities stacked as channels, labels from the subjects table,
pixels equal to nibabel's reading of the NIfTI files the cohort ingested."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ziggurat
from ziggurat.ml import VolumePatches, VolumeSlices

pytest.importorskip("duckdb")


def pair(volumes: list[np.ndarray]) -> list[np.ndarray]:
    """Two volumes of one shape (modalities stack only when their shapes agree)."""
    return [volumes[0], np.ascontiguousarray(volumes[0][::-1]) + 1]


@pytest.fixture(scope="module")
def study(volumes: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ziggurat.Cohort]:
    import nibabel

    from ziggurat.cohort import ingest
    from ziggurat.testing.cohorts import write_bids

    root = tmp_path_factory.mktemp("study")
    niftis = []
    for k, volume in enumerate(pair(volumes)):
        niftis.append(root / f"v{k}.nii")
        nibabel.save(nibabel.Nifti1Image(volume.T, np.eye(4)), niftis[-1])  # NIfTI stores (x, y, z)
    bids = write_bids(root / "bids", niftis, subjects=3, modalities=("T1w", "FLAIR"))
    report = ingest(bids, root / "cohort", workers=1)
    assert report.bad == []
    return bids, ziggurat.Cohort(report.root)


def test_modalities_stack_with_labels(study: tuple[Path, ziggurat.Cohort], volumes: list[np.ndarray]) -> None:
    bids, cohort = study
    participants = pd.read_csv(bids / "participants.tsv", sep="\t").set_index("participant_id")
    ds = VolumePatches(cohort, patch_size=8, samples_per_epoch=12, seed=0, modalities=("T1w", "FLAIR"),
                       labels=("diagnosis", "age"))  # fmt: skip
    assert len(ds.images) == 3  # one entry per subject
    # write_bids cycles the NIfTI files: subject n has T1w = file 2n % 2 = 0 and FLAIR = file 1
    for i in range(len(ds)):
        s = ds[i]
        z, y, x = s["location"].tolist()
        assert s["image"].shape == (2, 8, 8, 8)
        for channel, volume in enumerate(pair(volumes)):
            np.testing.assert_array_equal(s["image"][channel].numpy(), volume[z : z + 8, y : y + 8, x : x + 8])
        assert s["subject"] == cohort.subjects[s["index"]]
        assert s["diagnosis"] == participants.loc[s["subject"], "diagnosis"]
        assert s["age"] == participants.loc[s["subject"], "age"]


def test_a_view_restricts_the_images(study: tuple[Path, ziggurat.Cohort], volumes: list[np.ndarray]) -> None:
    _, cohort = study
    view = cohort.sel(modality="FLAIR").iloc[:2]
    ds = VolumeSlices(view, axis="z", step=10)
    assert len(ds.images) == 2 and {ds[i]["subject"] for i in range(len(ds))} == set(view.subjects)
    s = ds[1]
    np.testing.assert_array_equal(s["image"][0].numpy(), pair(volumes)[1][s["location"][0]])
    with pytest.raises(TypeError, match="Cohort"):
        VolumePatches([ziggurat.from_array(volumes[0], axes="zyx")], labels=("age",))


def test_a_modality_is_the_sampling_map(study: tuple[Path, ziggurat.Cohort], volumes: list[np.ndarray]) -> None:
    _, cohort = study
    t1, flair = pair(volumes)
    ds = VolumePatches(cohort, patch_size=8, samples_per_epoch=6, seed=3, modalities=("T1w",), sampling_map="FLAIR")
    for i in range(len(ds)):
        s = ds[i]
        z, y, x = s["location"].tolist()
        assert s["image"].shape == (1, 8, 8, 8)  # the map is not a channel
        np.testing.assert_array_equal(s["image"][0].numpy(), t1[z : z + 8, y : y + 8, x : x + 8])
        np.testing.assert_array_equal(s["target"][0].numpy(), flair[z : z + 8, y : y + 8, x : x + 8])
    with pytest.raises(TypeError, match="modalities"):
        VolumePatches(cohort, patch_size=8, sampling_map="FLAIR")
