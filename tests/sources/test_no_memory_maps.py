"""No source memory-maps a file: one truncated or rewritten in place while open gives a typed
error, never SIGBUS.

Before, a multi-page TIFF's contiguous series (``tiff``) and each uncompressed slice of a folder
(``tiffstack``) were memory-mapped: shrinking the file under an open image (``cp small.tif
big.tif`` truncates first) killed the process with a bus error on the next read. A child process
does the reads, so a signal shows as its exit status; the pixels read before the truncation are
checked against tifffile's."""

from __future__ import annotations

import json
import mmap
import subprocess
import sys
from pathlib import Path

import nibabel
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

import ziggurat

VOLUME = (np.arange(12 * 96 * 80, dtype=np.uint16).reshape(12, 96, 80) * 7) % 4099

SCRIPT = """
import json, os, shutil, sys
import numpy as np, tifffile, ziggurat
from ziggurat.errors import ZigguratError

def case(path, backend, victim, shrink):
    image = ziggurat.open(path, backend=backend)
    level = image.levels[0]
    box = (slice(2, 11), slice(5, 90), slice(3, 70))
    before = np.asarray(level[box])
    if shrink == "truncate":
        os.truncate(victim, 4096)
    else:  # `cp small.tif victim`: truncated, then a smaller valid file written over it
        shutil.copyfile(sys.argv[2], victim)
    try:
        np.asarray(level[box])
        outcome = "read"
    except ZigguratError as exc:
        outcome = type(exc).__name__ + (" names the file" if os.path.basename(victim) in str(exc) else "")
    image.close()
    return before.tolist(), outcome

print(json.dumps({name: case(*args) for name, args in json.loads(sys.argv[1]).items()}))
"""


def test_a_stack_shrunk_while_open_raises_a_typed_error_not_sigbus(tmp_path: Path) -> None:
    cases: dict[str, tuple[str, str, str, str]] = {}
    for shrink in ("truncate", "copy-over"):
        pages = tmp_path / f"pages-{shrink}.tif"
        tifffile.imwrite(pages, VOLUME, metadata={"axes": "ZYX"})  # one contiguous uncompressed series
        stack = tmp_path / f"stack-{shrink}"
        stack.mkdir()
        for z, plane in enumerate(VOLUME):
            tifffile.imwrite(stack / f"s{z:02d}.tif", plane)
        cases[f"tiff {shrink}"] = (str(pages), "tiff", str(pages), shrink)
        cases[f"slices {shrink}"] = (str(stack), "tiffstack", str(stack / "s07.tif"), shrink)
    small = tmp_path / "small.tif"
    tifffile.imwrite(small, np.zeros((8, 8), np.uint16))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(cases), str(small)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"exit {done.returncode} (a negative one is a signal): {done.stderr[-1500:]}"
    results = json.loads(done.stdout)
    truth = VOLUME[2:11, 5:90, 3:70]
    for name, (before, outcome) in results.items():
        assert np.array_equal(np.asarray(before, np.uint16), truth), name
        assert outcome == "CorruptImageError names the file", (name, outcome)


def test_no_source_maps_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every memory map (NumPy's, tifffile's, nibabel's, Pillow's) goes through ``mmap.mmap``."""
    PILImage.fromarray(VOLUME[0].astype(np.uint8)).save(tmp_path / "raw.bmp")  # Pillow maps these by name
    tifffile.imwrite(tmp_path / "raw.tif", VOLUME[0])
    tifffile.imwrite(tmp_path / "pages.tif", VOLUME, metadata={"axes": "ZYX"})
    nibabel.save(nibabel.Nifti1Image(VOLUME.T, np.eye(4)), tmp_path / "raw.nii")
    (tmp_path / "stack").mkdir()
    for z, plane in enumerate(VOLUME[:3]):
        tifffile.imwrite(tmp_path / "stack" / f"s{z}.tif", plane)
    maps: list[object] = []

    def spy(*args: object, **kwargs: object) -> None:
        maps.append(args)
        raise OSError("memory maps are not allowed here")

    monkeypatch.setattr(mmap, "mmap", spy)
    for name in ("raw.bmp", "raw.tif", "pages.tif", "raw.nii", "stack"):
        with ziggurat.open(tmp_path / name) as image:
            for level in image.levels:
                assert np.asarray(level[...]).shape == level.shape, name
    assert maps == []
