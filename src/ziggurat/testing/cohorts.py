"""Generated cohort sources: a BIDS dataset built from real NIfTI files, a folder of slides with a manifest.

The BIDS dataset follows the standard layout (``participants.tsv``, ``sub-*/[ses-*/]anat|func/``
with JSON sidecars); participants' ages, sexes and diagnoses are drawn from a seeded RNG so tests can
compute the expected query answers independently from ``participants.tsv``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .sample import write_slide

DIAGNOSES = ("HGG", "LGG", "control")
#: (datatype, suffix, sidecar) per modality
MODALITIES = {
    "T1w": ("anat", {"RepetitionTime": 2.3, "EchoTime": 0.00298, "FlipAngle": 9}),
    "FLAIR": ("anat", {"RepetitionTime": 9.0, "EchoTime": 0.081, "InversionTime": 2.5}),
    "bold": ("func", {"RepetitionTime": 2.0, "TaskName": "rest"}),
}


def write_bids(
    out: str | os.PathLike[str],
    niftis: Sequence[str | os.PathLike[str]],
    subjects: int = 6,
    modalities: Sequence[str] = ("T1w", "FLAIR"),
    sessions: int = 1,
    seed: int = 0,
) -> Path:
    """A BIDS dataset of ``subjects`` participants, each with every modality (cycling through the
    given NIfTI files) in ``sessions`` sessions (``ses-*`` folders when more than one)."""
    root = Path(out)
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "ziggurat test", "BIDSVersion": "1.9.0"}))
    rows = []
    k = 0
    for n in range(1, subjects + 1):
        sub = f"sub-{n:02d}"
        rows.append(
            {
                "participant_id": sub,
                "age": int(rng.integers(18, 80)),
                "sex": str(rng.choice(["F", "M"])),
                "diagnosis": str(rng.choice(DIAGNOSES)),
            }
        )
        for s in range(1, sessions + 1):
            ses = f"ses-{s:02d}" if sessions > 1 else None
            for modality in modalities:
                datatype, sidecar = MODALITIES[modality]
                folder = root / sub / (ses or "") / datatype
                folder.mkdir(parents=True, exist_ok=True)
                task = "_task-rest" if datatype == "func" else ""
                stem = "_".join(p for p in (sub, ses) if p) + task + f"_{modality}"
                src = Path(niftis[k % len(niftis)])
                k += 1
                shutil.copyfile(src, folder / (stem + ".nii.gz" if src.name.endswith(".gz") else stem + ".nii"))
                (folder / f"{stem}.json").write_text(json.dumps(sidecar))
    with open(root / "participants.tsv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return root


def write_slide_folder(
    out: str | os.PathLike[str], slides: int = 4, size: tuple[int, int] = (1200, 900), seed: int = 0
) -> tuple[Path, Path]:
    """``slides`` slides (two per patient) and ``manifest.csv`` (slide, subject, stain, label); returns
    (folder, manifest). The slides are copies of one generated slide (generating one takes seconds)."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, str]] = []
    for n in range(slides):
        name = f"slide-{n:03d}.tif"
        if n == 0:
            write_slide(root / name, *size, seed=seed)
        else:
            shutil.copyfile(root / rows[0]["slide"], root / name)
        rows.append(
            {
                "slide": name,
                "subject": f"patient-{n // 2:02d}",
                "stain": "HE",
                "label": str(rng.choice(["tumour", "normal"])),
            }
        )
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root, manifest
