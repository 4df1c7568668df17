"""Every example in docs/cohorts.md runs, in order, in a fresh folder (Python blocks share one namespace;
shell blocks go through the ``ziggurat`` entry point)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from ziggurat.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "cohorts.md"


def test_cohort_docs_run(realdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copyfile(realdata / "nifti" / "anatomical.nii", tmp_path / "anatomical.nii")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    blocks = re.findall(r"```(python|sh)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 8
    for language, code in blocks:
        if language == "python":
            exec(compile(code, str(DOC), "exec"), namespace)
            continue
        for line in code.strip().splitlines():
            argv = shlex.split(line)
            assert argv[0] == "ziggurat" and main(argv[1:]) == 0, line
    assert (tmp_path / "study-nifti" / "images.csv").is_file()
