"""Shared fixtures: real sample files from ../shared/realdata and generated slides."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def realdata_dir() -> Path | None:
    path = Path(os.environ.get("ZIGGURAT_REALDATA", REPO.parent / "shared" / "realdata"))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The realdata folder; skipped when absent, a failure under CI."""
    path = realdata_dir()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("realdata is missing under CI (expected ../shared/realdata or ZIGGURAT_REALDATA)")
        pytest.skip("realdata not found at ../shared/realdata (set ZIGGURAT_REALDATA)")
    return path


@pytest.fixture(scope="session")
def sample_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated pyramidal JPEG slide (3000 x 2000, 256 px tiles, 3 levels)."""
    from ziggurat.testing.sample import write_slide

    path = tmp_path_factory.mktemp("slides") / "sample.tif"
    write_slide(path, 3000, 2000)
    return path


@pytest.fixture
def run_bench_quick(tmp_path: Path) -> Callable[[str], str]:
    """Run ``python -m bench NAME --quick`` on fresh data in tmp_path; assert exit 0, return stdout."""

    def run(name: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bench", name, "--quick"],
            cwd=REPO, capture_output=True, text=True, timeout=300,
            env={**os.environ, "ZIGGURAT_BENCH_DATA": str(tmp_path)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    return run
