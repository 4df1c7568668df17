"""Every ```python and ```bash block in README.md and docs/*.md runs, against files this test makes.

Blocks of one document run in order in one namespace (Python) and one working folder (shell), as a
reader would type them. A block that cannot run here (a cluster, a bucket, a long-running server)
is preceded by ``<!-- docs-test: skip: REASON -->``; the reason is required.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
#: documents whose examples need a workspace of their own run in their area's test instead
OWN_RUNNER = {"cohorts.md": "tests/cohort/test_docs.py (a generated BIDS dataset and slide folder)"}
DOCS = [REPO / "README.md", *sorted(p for p in (REPO / "docs").glob("*.md") if p.name not in OWN_RUNNER)]
FENCE = re.compile(
    r"^(?:<!-- docs-test: skip:(?P<reason>[^>]*)-->\n)?```(?P<lang>python|bash)\n(?P<code>.*?)^```", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    skip: str | None


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        reason = m.group("reason")
        if reason is not None and not reason.strip():
            pytest.fail(f"{doc.name}:{text[: m.start()].count(chr(10)) + 1}: a docs-test skip needs a reason")
        line = text[: m.start("code")].count("\n") + 1
        found.append(Block(m.group("lang"), m.group("code"), line, reason.strip() if reason else None))
    return found


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, realdata: Path, sample_slide: Path) -> Path:
    """The files the examples name: a slide, an SVS, a brain, CT slices, an EM array, N5 labels."""
    import zarr

    from ziggurat.testing.sample import write_stack, write_volume

    root = tmp_path_factory.mktemp("docs")
    (root / "data").mkdir()
    shutil.copy(sample_slide, root / "data" / "sample.tif")  # 3000 x 2000, 3 levels
    shutil.copy(sample_slide, root / "slide.tif")  # the object-storage example uploads it
    shutil.copy(realdata / "svs" / "CMU-1-Small-Region.svs", root / "slide.svs")
    shutil.copy(realdata / "nifti" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz", root / "brain.nii.gz")
    write_stack(root / "ct-slices", (8, 96, 96))
    write_volume(root / "stack.tif", (8, 64, 64))
    em = zarr.create_array(root / "em.zarr", name="s0", shape=(16, 128, 128), chunks=(16, 64, 64), dtype="uint8")
    em[:] = np.random.default_rng(0).integers(0, 255, (16, 128, 128), dtype=np.uint8)
    ts = pytest.importorskip("tensorstore")
    labels = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(root / "labels.n5")},
                      "metadata": {"dimensions": [32, 32, 8], "blockSize": [16, 16, 8], "dataType": "uint16",
                                   "compression": {"type": "raw"}}}, create=True).result()  # fmt: skip
    labels.write(np.arange(8 * 32 * 32, dtype=np.uint16).reshape(32, 32, 8).T.T % 5).result()
    return root


def test_every_skip_has_a_reason_and_some_blocks_run() -> None:
    every = [b for doc in DOCS for b in blocks(doc)]
    assert sum(b.skip is None for b in every) >= 15
    assert all(b.skip for b in every if b.skip is not None)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_the_examples_run(doc: Path, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runnable = [b for b in blocks(doc) if b.skip is None]
    if not runnable:
        pytest.skip(f"{doc.name} has no runnable examples")
    here = tmp_path / "work"
    shutil.copytree(workspace, here, symlinks=True)
    monkeypatch.chdir(here)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in runnable:
        where = f"{doc.relative_to(REPO)}:{block.line}"
        if block.lang == "python":
            exec(compile(block.code, where, "exec"), namespace)  # the docs' own examples
            continue
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=here, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, f"{where} failed:\n{done.stderr[-2000:]}"
