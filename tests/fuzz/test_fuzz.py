"""The fuzzing suite in CI: a few hundred mutated copies of generated and real images, each read in a
worker process with memory and time limits; every case must read or raise a typed ziggurat error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ziggurat.testing import fuzz
from ziggurat.testing.fuzz_corpus import Case, cases, generated_seeds, real_seeds

PER_SEED = 8
REALDATA = Path(os.environ.get("ZIGGURAT_REALDATA", Path(__file__).resolve().parents[2].parent / "shared" / "realdata"))


def test_corpus_holds(tmp_path_factory: pytest.TempPathFactory) -> None:
    if not REALDATA.is_dir() and os.environ.get("CI") == "true":
        pytest.fail(f"realdata is missing under CI (expected {REALDATA} or ZIGGURAT_REALDATA)")
    seeds = generated_seeds(tmp_path_factory.mktemp("seeds")) + real_seeds(REALDATA if REALDATA.is_dir() else None)
    corpus = cases(seeds, PER_SEED)
    assert len({c.id for c in corpus}) == len(corpus) >= 130
    results = fuzz.run(corpus, jobs=2, timeout=30)
    bad = fuzz.failures(results)
    report = "\n".join(f"{r.id}: {r.outcome}: {r.detail}" for r in bad)
    assert not bad, f"{len(bad)} of {len(results)} cases failed:\n{fuzz.table(results)}\n{report}"
    # every area reaches both outcomes: some copies still read (pristine ones match the anchor), some are refused
    for area in {r.area for r in results}:
        assert {r.outcome for r in results if r.area == area} == {"ok", "typed"}, area


def test_the_suite_sees_hangs_signals_and_untyped_errors(tmp_path: Path) -> None:
    """Each failure class is reported as itself, and the worker that died is replaced."""
    seed = tmp_path / "x.nii"
    seed.write_bytes(b"not a volume")
    worker = fuzz.Worker(tmp_path)
    kinds = ("pristine", "selftest-hang", "pristine", "selftest-signal", "selftest-untyped", "pristine")
    try:  # only the hang gets a short timeout: a worker's first start can be slow on a loaded machine
        outcomes = [
            worker.run(Case("nifti", str(seed), kind), timeout=2 if "hang" in kind else 60).outcome for kind in kinds
        ]
    finally:
        worker.stop()
    assert outcomes == ["typed", "hang", "typed", "signal", "untyped", "typed"]
