"""PyTorch loads only with ziggurat.ml: readers, cohorts and reopening workers do not pay for it."""

from __future__ import annotations

import subprocess
import sys


def test_import_ziggurat_does_not_import_torch() -> None:
    code = "import sys, ziggurat, ziggurat.cohort; assert 'torch' not in sys.modules, 'torch was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
