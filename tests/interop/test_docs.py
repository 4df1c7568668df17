"""The examples of docs/openslide.md and the openslide section of docs/api.md run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def python_blocks(doc: Path, section: str | None = None) -> list[str]:
    text = doc.read_text()
    if section is not None:
        text = text[text.index(section) :].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.parametrize(("doc", "section"), [("openslide.md", None), ("api.md", "## openslide compatibility")])
def test_examples_run(doc: str, section: str | None, sample_slide: Path, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    (tmp_path / "data").mkdir()
    os.symlink(sample_slide, tmp_path / "data" / "sample.tif")
    (tmp_path / "data" / "notes.txt").write_text("not a slide")
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(DOCS / doc, section)
    assert blocks
    for code in blocks:
        exec(compile(code, f"{doc} example", "exec"), {"__name__": "docs_example"})
