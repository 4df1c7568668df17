"""``ziggurat convert``: presets and codecs land in the store; bad arguments and inputs exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ziggurat
from ziggurat.cli import main

nib = pytest.importorskip("nibabel")


def test_convert_explicit_chunks_and_zstd(realdata: Path, tmp_path: Path) -> None:
    src = realdata / "nifti" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    out = tmp_path / "mni.zarr"
    assert main(["convert", str(src), str(out), "--chunks", "16,32,48", "--compression", "zstd"]) == 0
    meta = json.loads((out / "0" / "zarr.json").read_text())
    sharding = meta["codecs"][0]["configuration"]
    assert sharding["chunk_shape"] == [16, 32, 48]
    assert [c["name"] for c in sharding["codecs"]] == ["bytes", "blosc"]
    assert sharding["codecs"][1]["configuration"]["cname"] == "zstd"
    np.testing.assert_array_equal(ziggurat.open(out).to_numpy(), np.asanyarray(nib.load(src).dataobj).T)


def test_convert_refuses_existing_output_unless_overwrite(realdata: Path, tmp_path: Path, capsys) -> None:
    src = realdata / "nifti" / "anatomical.nii"
    out = tmp_path / "a.zarr"
    assert main(["convert", str(src), str(out), "--chunks", "axial"]) == 0
    assert main(["convert", str(src), str(out)]) == 2
    assert "a.zarr: exists (use --overwrite to replace it)" in capsys.readouterr().err
    assert main(["convert", str(src), str(out), "--overwrite", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_convert_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["convert", str(tmp_path / "missing.nii"), str(tmp_path / "x.zarr")]) == 2
    assert "missing.nii" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["convert", "a.nii", "b.zarr", "--chunks", "big"])
    assert exc.value.code == 2
    assert not (tmp_path / "x.zarr").exists()
