"""Nothing lost, nothing half-written: every writer (and cohort ingest) killed with SIGKILL at
random moments, during fresh writes and during overwrites (appends), leaves the previous complete
output or the new complete one (or, for a fresh write, nothing that looks complete); the next run
cleans the dead run's temporaries; a second concurrent writer of the same output fails at once."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel
import numpy as np
import pytest

from ziggurat.io.atomic import OutputLockedError, atomic_path, output_lock
from ziggurat.testing.sample import ct_volume, write_slide, write_stack

KILLS = 2  # per writer and mode; the moments are spread over the run (a fixed seed: reproducible)


def _digest(paths: list[Path]) -> str | None:
    """What a reader sees: None when the output's marker (its first path) is absent."""
    if not paths[0].exists():
        return None
    h = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for f in files:
            if f.is_file():
                h.update(str(f.relative_to(root.parent)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("kill-inputs")
    slides = (write_slide(root / "a.tif", 1800, 1300, seed=0), write_slide(root / "b.tif", 2000, 1200, seed=1))
    volumes = []
    for name, shape in (("a.nii", (16, 128, 128)), ("b.nii", (20, 144, 144))):
        nibabel.save(nibabel.Nifti1Image(ct_volume(shape).T, np.eye(4)), root / name)
        volumes.append(root / name)
    return {"dzi": slides, "pyramid": slides, "convert": (volumes[0], volumes[1])}


def _argv(writer: str, source: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "ziggurat.cli", writer, str(source), str(out), "--overwrite"]


def _outputs(writer: str, out: Path) -> list[Path]:
    return [out.with_suffix(".dzi"), out.parent / f"{out.name}_files"] if writer == "dzi" else [out]


def _run(argv: list[str]) -> float:
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    return time.monotonic() - start


def _kill_at(argv: list[str], delay: float) -> None:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("writer", ["dzi", "convert", "pyramid"])
def test_killed_writer_leaves_old_or_new(writer: str, inputs: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    a, b = inputs[writer]
    name = "out" if writer == "dzi" else "out.zarr"
    # the complete outputs of A and of B, written undisturbed
    ref = tmp_path / "ref"
    ref.mkdir()
    _run(_argv(writer, a, ref / name))
    old = _digest(_outputs(writer, ref / name))
    seconds = _run(_argv(writer, b, ref / name))
    new = _digest(_outputs(writer, ref / name))
    assert old is not None and new is not None and old != new
    rng = random.Random(f"kill-{writer}")
    work = tmp_path / "work"
    work.mkdir()
    out = work / name
    seen = set()
    for mode in ("fresh", "overwrite"):
        for _ in range(KILLS):
            for path in _outputs(writer, out):  # start from nothing, or from A's complete output
                subprocess.run(["rm", "-rf", str(path)], check=True)
            if mode == "overwrite":
                _run(_argv(writer, a, out))
            _kill_at(_argv(writer, b, out), rng.uniform(0.3, seconds * 1.2))
            state = _digest(_outputs(writer, out))
            allowed = {None, new} if mode == "fresh" else {old, new}
            assert state in allowed, f"{mode}: killed {writer} left a mix or a complete-looking partial"
            seen.add((mode, "old" if state == old else "new" if state == new else "none"))
    _run(_argv(writer, b, out))  # the next run completes and removes what the dead runs left
    assert _digest(_outputs(writer, out)) == new
    assert _hidden(work) == []
    assert ("overwrite", "none") not in seen


def test_killed_thumbnails_keep_only_complete_files(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack", (48, 256, 256))
    ref, work = tmp_path / "ref", tmp_path / "work"
    argv = [sys.executable, "-m", "ziggurat.cli", "thumbnails", "--resume", str(stack)]
    seconds = _run([*argv, str(ref)])
    reference = {p.relative_to(ref): p.read_bytes() for p in ref.rglob("*") if p.is_file()}
    rng = random.Random("kill-thumbnails")
    for _ in range(KILLS + 1):
        _kill_at([*argv, str(work)], rng.uniform(0.3, seconds))
        if work.exists():
            for p in work.rglob("*"):
                if p.is_file() and not p.name.startswith("."):
                    assert p.read_bytes() == reference[p.relative_to(work)], f"{p} is not a complete thumbnail"
    _run([*argv, str(work)])
    assert {p.relative_to(work): p.read_bytes() for p in work.rglob("*") if p.is_file()} == reference


def test_a_second_writer_of_the_same_output_fails_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(b"first")
        with pytest.raises(OutputLockedError, match=r"out\.bin: another writer"), atomic_path(out):
            pass
        with pytest.raises(OutputLockedError), output_lock(out):
            pass
    assert out.read_bytes() == b"first" and _hidden(tmp_path) == []


def test_an_output_that_appears_during_the_run_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    from ziggurat.io.atomic import OutputExistsError

    with pytest.raises(OutputExistsError, match="appeared while this run"):
        with atomic_path(out, directory=True, overwrite=False) as tmp:
            (Path(tmp) / "mine").write_text("new")
            out.mkdir()
            (out / "theirs").write_text("someone else's")
    assert [p.name for p in out.iterdir()] == ["theirs"] and _hidden(tmp_path) == []


def test_temporaries_of_a_dead_run_are_cleaned_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    dead = tmp_path / f".out.zarr.partial-{os.getpid() + 1}-x"
    dead.mkdir()
    (dead / "chunk").write_bytes(b"x" * 1000)
    with atomic_path(out, directory=True) as tmp:
        (Path(tmp) / "zarr.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_a_second_thumbnails_run_on_the_same_folder_fails_cleanly(tmp_path: Path) -> None:
    """While a run holds the folder (here: this process, as a first run would), a second run stops
    at once with one line and touches nothing; once the folder is free, a run completes."""
    stack = write_stack(tmp_path / "stack", (8, 64, 64))
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "ziggurat.cli", "thumbnails", str(stack), str(out)]
    with output_lock(out):
        second = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0 and "another writer" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())
    _run(argv)
    assert (out / "settings.json").exists() and _hidden(tmp_path) == []


def _cohort_digest(root: Path) -> str | None:
    """What a reader of the cohort sees: None without ``cohort.json``; else its tables' rows, the
    manifest's other fields and the bytes of every stored image (not the generation's folder name)."""
    import pyarrow.parquet as pq

    manifest = root / "cohort.json"
    if not manifest.exists():
        return None
    meta = json.loads(manifest.read_text())
    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "tables"}, sort_keys=True).encode())
    images = pq.read_table(root / meta["tables"] / "images.parquet").to_pylist()
    h.update(json.dumps([pq.read_table(root / meta["tables"] / "subjects.parquet").to_pylist(), images]).encode())
    for row in images:
        if row["stored"]:
            h.update(_digest([root / row["uri"]]).encode())  # type: ignore[union-attr]
    return h.hexdigest()


def test_killed_cohort_ingest_leaves_old_or_new(tmp_path: Path) -> None:
    from ziggurat.cohort import ingest
    from ziggurat.cohort.store import writer_lock
    from ziggurat.testing.cohorts import write_bids

    niftis = []
    for k, shape in enumerate(((12, 48, 48), (10, 40, 56))):
        niftis.append(tmp_path / f"v{k}.nii")
        nibabel.save(nibabel.Nifti1Image(ct_volume(shape, seed=k).T, np.eye(4)), niftis[-1])
    a = write_bids(tmp_path / "a", niftis, subjects=2, modalities=("T1w",))
    b = write_bids(tmp_path / "b", niftis, subjects=4, modalities=("T1w", "FLAIR"))  # A's subjects and more

    def argv(src: Path, out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "ziggurat.cli",
            "cohort",
            "ingest",
            str(src),
            str(out),
            "--quiet",
            "--workers",
            "1",
        ]

    ref = tmp_path / "ref"
    ingest(a, ref / "c", workers=1)  # in this process: the imports are paid once
    old = _cohort_digest(ref / "c")
    subprocess.run(["cp", "-a", str(ref / "c"), str(ref / "a-only")], check=True)
    todo = {"fresh": 2, "append": ingest(b, ref / "c", workers=1).added}  # appended: the new complete cohort
    new = _cohort_digest(ref / "c")
    assert old is not None and new is not None and old != new
    assert _cohort_digest(ref / "a-only") == old  # a copied cohort reads the same
    rng = random.Random("kill-cohort")
    out = tmp_path / "work" / "c"
    out.parent.mkdir()
    for mode, src, allowed in (("fresh", a, {None, old}), ("append", b, {old, new})):
        # a fresh ingest of A; B appended to A's complete cohort. Killed once the journal has a
        # random number of finished images (all of them: while the tables are written), plus 0-0.1 s
        for lines in (rng.randint(1, todo[mode] - 1), todo[mode]):
            subprocess.run(["rm", "-rf", str(out)], check=True)
            if mode == "append":
                subprocess.run(["cp", "-a", str(ref / "a-only"), str(out)], check=True)
            journal = out / ".ingest-journal.jsonl"
            proc = subprocess.Popen(argv(src, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)  # fmt: skip
            while proc.poll() is None and (not journal.exists() or journal.read_text().count("\n") < lines):
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.1))
            with contextlib.suppress(ProcessLookupError):  # it may have finished already
                os.killpg(proc.pid, signal.SIGKILL)  # the ingest and any worker process it started
            proc.wait()
            assert _cohort_digest(out) in allowed, f"{mode}: a killed ingest left a mix or a complete-looking partial"
    ingest(b, out, workers=1)  # the next run completes and removes what the dead one left
    assert _cohort_digest(out) == new
    current = json.loads((out / "cohort.json").read_text())["tables"]
    assert _hidden(out) == [] and [f"tables/{p.name}" for p in (out / "tables").iterdir()] == [current]
    with writer_lock(out), pytest.raises(OutputLockedError, match="another writer"):
        ingest(b, out, workers=1)  # a second writer of the cohort fails at once
