"""Ctrl-C of a writer (``convert``, ``pyramid``, ``dzi``, ``thumbnails``): one line, exit 130, no
traceback, nothing complete-looking left, and the next run completes and leaves no temporary.

Each writer runs as a real ``ziggurat`` process and gets SIGINT once its temporary output exists
(the run is writing): during a fresh write, then during an overwrite of a complete output, which
must survive untouched (convert and dzi: pyramid commits through the same atomic rename as
convert)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel
import numpy as np
import pytest

from ziggurat.testing.sample import ct_volume, write_slide, write_stack

WRITERS = {"convert": ("vol.nii", "out.zarr"), "pyramid": ("slide.tif", "out.zarr"), "dzi": ("slide.tif", "out"),
           "thumbnails": ("stack", "thumbs")}  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("interrupt-inputs")
    write_slide(root / "slide.tif", 2000, 1600, seed=3)
    nibabel.save(nibabel.Nifti1Image(ct_volume((24, 160, 160)).T, np.eye(4)), root / "vol.nii")
    write_stack(root / "stack", (32, 192, 192))
    return root


def _temporaries(folder: Path) -> list[Path]:
    return [Path(d, n) for d, dirs, files in os.walk(folder) for n in dirs + files if ".partial" in n]


def _visible(folder: Path) -> dict[str, str]:
    """Every visible file under ``folder`` (hidden names and their trees skipped) and its digest."""
    out = {}
    for d, dirs, files in os.walk(folder):
        dirs[:] = [n for n in dirs if not n.startswith(".")]
        for n in files:
            if not n.startswith("."):
                path = Path(d, n)
                out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _interrupt(argv: list[str], work: Path) -> tuple[int, str]:
    """Start the writer, SIGINT it as soon as a temporary output exists; (exit code, stderr)."""
    proc = subprocess.Popen(argv, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _temporaries(work) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < 15, "an interrupted writer must stop promptly"
    return proc.returncode, err


@pytest.mark.parametrize("writer", list(WRITERS))
def test_ctrl_c_prints_one_line_exits_130_and_leaves_nothing_half_written(
    writer: str, inputs: Path, tmp_path: Path
) -> None:
    source, out = WRITERS[writer]
    argv = [sys.executable, "-m", "ziggurat.cli", writer, str(inputs / source), out, "--quiet"]
    argv += ["--resume"] if writer == "thumbnails" else ["--overwrite"]

    code, err = _interrupt(argv, tmp_path)  # a fresh write
    if code == 0:  # it finished first: nothing to check here (the tests below still are)
        pytest.skip(f"{writer} finished before the signal arrived")
    assert (code, err) == (130, "ziggurat: interrupted\n")
    partial = _visible(tmp_path)
    if writer != "thumbnails":  # thumbnails are complete files one by one, checked below
        assert partial == {}, f"an interrupted {writer} left a complete-looking output"

    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # the next run
    assert done.returncode == 0, done.stderr[-1500:]
    complete = _visible(tmp_path)
    assert complete and _temporaries(tmp_path) == []
    assert list(tmp_path.rglob(".*")) == []  # no lock, journal or temporary left
    assert all(complete[name] == digest for name, digest in partial.items()), "a partial thumbnail"

    if writer in ("convert", "dzi"):  # Ctrl-C while overwriting keeps the old complete output (pyramid
        # commits as convert does)
        code, err = _interrupt(argv, tmp_path)
        assert (code, err) in {(130, "ziggurat: interrupted\n"), (0, "")}
        assert _visible(tmp_path) == complete
