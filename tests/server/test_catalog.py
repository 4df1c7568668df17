"""The catalog lists what the registry reads: folders that are one image are listed whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import tifffile

from ziggurat.server.catalog import Catalog
from ziggurat.testing.sample import write_slide


def test_the_registry_decides_what_is_listed(tmp_path: Path, realdata: Path) -> None:
    root = tmp_path / "served"
    (root / "slides").mkdir(parents=True)
    write_slide(root / "slides" / "a.tif", 300, 200)  # two slides in one folder: not a stack
    write_slide(root / "slides" / "b.tif", 300, 200)
    stack = root / "ct-slices"
    stack.mkdir()
    for z in range(4):
        tifffile.imwrite(stack / f"{z:03d}.tif", np.full((16, 16), z, np.uint16))
    shutil.copytree(realdata / "dicom" / "series-ct-ge-tilt", root / "head-ct")
    shutil.copy(realdata / "nifti" / "anatomical.nii", root / "brain.nii")
    (root / "notes.txt").write_text("not an image")
    (root / "fake.tif").write_bytes(b"not a tiff at all")
    names = {e.name: e for e in Catalog([root]).entries()}
    assert set(names) == {"served/slides/a.tif", "served/slides/b.tif", "served/ct-slices",
                          "served/head-ct", "served/brain.nii"}  # fmt: skip
    catalog = Catalog([root])
    entries = {e.name: e for e in catalog.entries()}
    assert catalog.open(entries["served/ct-slices"]).shape == (4, 16, 16)
