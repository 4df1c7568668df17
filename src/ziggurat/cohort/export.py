"""``cohort export``: a view as a BIDS-like folder of NIfTI files plus its tables as CSV, for tools
that know neither OME-Zarr nor Parquet. Slides stay where they are (listed in ``images.csv``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..model.image import open_image
from ..writers.nifti import write_nifti
from .store import locate, safe_name
from .view import View


def export(view: View, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``out/subjects.csv``, ``out/images.csv`` and every volume as
    ``out/<subject>/[<session>/]<datatype or modality>/<image_id>.nii.gz``; returns the NIfTI paths."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    view.subjects_table().to_csv(root / "subjects.csv", index=False)
    images = view.images_table()
    images.to_csv(root / "images.csv", index=False)
    written = []
    for row in images.to_dict("records"):
        if row["axes"] == "yxc":
            continue
        folder = str(row["datatype"]) if isinstance(row.get("datatype"), str) else safe_name(str(row["modality"]))
        session = [safe_name(str(row["session"]))] if isinstance(row.get("session"), str) else []
        target = root.joinpath(
            safe_name(str(row["subject_id"])), *session, folder, f"{safe_name(str(row['image_id']))}.nii.gz"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_image(locate(view.root, str(row["uri"]))) as image:
            written.append(write_nifti(image, target))
    return written
