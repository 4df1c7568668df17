"""The fuzzing suite: every case of the mutation corpus read in a worker process with limits.

Each case (:mod:`ziggurat.testing.fuzz_corpus`) is materialised and read the way users read
images — open, metadata, small boxes of every level, a thumbnail, an RGBA region, associated
images, volume planes — in a worker subprocess whose address space is capped (``RLIMIT_AS``) and
whose peak resident memory per case is measured. A case *holds* when it reads (a pristine copy's
pixels equal the anchor library's) or raises a typed :class:`~ziggurat.errors.ZigguratError`. It
fails on a hang (the worker is killed after ``timeout`` seconds), a signal, an untyped exception, a
``MemoryError``, wrong pixels, or a peak RSS over ``rss_budget``. A dead worker is replaced, so one
bad case costs one case.

``run(cases)`` drives a pool of workers; ``table(results)`` counts them per area and kind.
``python -m ziggurat.testing.fuzz --worker`` is the worker (JSON lines on stdin and stdout).
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .fuzz_corpus import Case, materialise

HELD = ("ok", "typed")
#: the worker's address-space cap and the per-case peak RSS growth a case may use
ADDRESS_SPACE = 3 << 30
RSS_BUDGET = 768 << 20
#: the library's own budget inside the worker (a typed error beyond it)
WORKER_ENV = {"ZIGGURAT_MAX_BYTES": str(256 << 20), "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}


@dataclass
class Result:
    """What one case did: ``outcome`` is ok, typed, untyped, memory, wrong, over-budget, hang or signal."""

    id: str
    area: str
    kind: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    peak_rss: int = 0

    @property
    def held(self) -> bool:
        return self.outcome in HELD


# -- the worker ---------------------------------------------------------------------------------
def _small_box(shape: Sequence[int], axes: str, far: bool) -> tuple[tuple[int, int], ...]:
    """A box of at most 160 x 160 in y and x, one index of other axes, every channel."""
    box = []
    for n, axis in zip(shape, axes):
        if axis == "c":
            box.append((0, n))
        elif axis in "yx":
            size = min(n, 160)
            box.append((n - size, n) if far else (0, size))
        else:
            box.append((n - 1, n) if far and n else (0, min(n, 1)))
    return tuple(box)


def exercise(path: Path, pristine: bool) -> str:
    """Read ``path`` the way users do; the reference check for a pristine copy. Returns a summary."""
    from ..model.image import open_image

    image = open_image(path)
    try:
        repr(image)
        levels = image.levels
        chosen = list(dict.fromkeys([*levels[:3], levels[-1]]))
        for level in chosen:
            for far in (False, True):
                level.read(_small_box(level.shape, image.axes, far))
        if image.axes == "yxc":
            _ = image.properties
            image.get_thumbnail(96)
            image.read_region((0, 0), len(levels) - 1, (64, 64), rgba=True)
            for name in list(image.associated_images)[:3]:
                image.associated_images[name]
        elif image.axes.endswith("zyx"):
            z = image.shape[-3]
            image.axial(z - 1)
            image.sagittal(0)
            image.coronal(0)
        if pristine:
            _check_reference(image, path)
        return f"{image.axes} {image.shape}"
    finally:
        image.close()


def _check_reference(image: Any, path: Path) -> None:
    """The pristine copy's level-0 corner box equals what the anchor library reads."""
    from . import sources as ref

    readers: dict[str, Callable[[Path], ref.Reference]] = {
        "tiff": ref.tiff_reference, "pillow": ref.pillow_reference, "nifti": ref.nifti_reference,
        "dicom": ref.dicom_reference, "omezarr": ref.omezarr_reference,
        "zarr": lambda p: ref.zarr_reference(p, image.axes), "tiffstack": ref.tiffstack_reference,
        "n5": lambda p: ref.n5_reference(p, image.axes),
    }  # fmt: skip
    if image.backend not in readers:
        return
    reference = readers[image.backend](path)
    box = _small_box(image.levels[0].shape, image.axes, far=True)
    ours = image.levels[0].read(box)
    theirs = reference.levels[0][tuple(slice(a, b) for a, b in box)]
    if not reference.exact_dtype:
        theirs = theirs.astype(ours.dtype)
    ref.assert_same(ours, np.ascontiguousarray(theirs), f"{path.name} level 0 corner")


def _peak_reset() -> int:
    """Reset the kernel's peak-RSS mark (VmHWM) and return the current RSS in bytes."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status("VmRSS")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def run_case(case: Case, folder: Path) -> dict[str, Any]:
    """One case in this process: the outcome as a JSON-safe dict."""
    from ..errors import ZigguratError

    start = time.perf_counter()
    base = _peak_reset()
    outcome, detail = "ok", ""
    try:
        path = materialise(case, folder)
        base = _peak_reset()
        detail = exercise(path, case.kind == "pristine")
    except ZigguratError as exc:  # typed, unless it only wraps an allocation that already failed
        outcome = "memory" if isinstance(exc.__cause__, MemoryError) else "typed"
        detail = f"{type(exc).__name__}: {exc}"[:300]
    except MemoryError as exc:
        outcome, detail = "memory", f"{type(exc).__name__}: {exc}"[:300]
    except AssertionError as exc:
        outcome, detail = "wrong", str(exc)[:300]
    except BaseException as exc:
        tb = traceback.extract_tb(exc.__traceback__)[-3:]
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb))
        outcome, detail = "untyped", f"{type(exc).__name__}: {exc} [{where}]"[:400]
    peak = max(0, _status("VmHWM") - base)
    if outcome in HELD and peak > RSS_BUDGET:
        outcome, detail = "over-budget", f"peak RSS grew {peak >> 20} MiB ({detail})"[:300]
    return {"outcome": outcome, "detail": detail, "seconds": time.perf_counter() - start, "peak_rss": peak}


def worker_main() -> int:
    """Read JSON cases from stdin, answer one JSON result line each (the runner's other half)."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    faulthandler.enable()
    for line in sys.stdin:
        job = json.loads(line)
        folder = Path(tempfile.mkdtemp(prefix="case-", dir=job["dir"]))
        try:
            answer = run_case(Case.from_json(job["case"]), folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


# -- the runner ---------------------------------------------------------------------------------
class Worker:
    """One worker subprocess; replaced after it hangs or dies."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen[str] | None = None
        self.log = folder / f"worker-{id(self)}.log"

    def _start(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            env = {**os.environ, **WORKER_ENV}
            with open(self.log, "a") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "ziggurat.testing.fuzz", "--worker"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                    start_new_session=True,
                )  # fmt: skip
        return self.process

    def run(self, case: Case, timeout: float) -> Result:
        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        start = time.perf_counter()
        process.stdin.write(json.dumps({"case": case.to_json(), "dir": str(self.folder)}) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if line:
            answer = json.loads(line)
            return Result(case.id, case.area, case.kind, **answer)
        elapsed = time.perf_counter() - start
        if not ready:
            self.stop()
            return Result(case.id, case.area, case.kind, "hang", f"no answer in {timeout:.0f} s", elapsed)
        code = process.wait()
        self.process = None
        tail = self.log.read_text()[-300:] if self.log.exists() else ""
        return Result(case.id, case.area, case.kind, "signal", f"worker exit {code}: {tail}", elapsed)

    def stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
            self.process.wait()
            self.process = None


def run(cases: Sequence[Case], *, jobs: int = 2, timeout: float = 30.0, folder: Path | None = None) -> list[Result]:
    """Run every case on ``jobs`` workers; results in the order of ``cases``."""
    own = folder is None
    root = Path(tempfile.mkdtemp(prefix="ziggurat-fuzz-")) if folder is None else folder
    local = threading.local()
    workers: list[Worker] = []
    lock = threading.Lock()

    def one(case: Case) -> Result:
        worker = getattr(local, "worker", None)
        if worker is None:
            worker = local.worker = Worker(root)
            with lock:
                workers.append(worker)
        return worker.run(case, timeout)

    try:
        with ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(one, cases))
    finally:
        for worker in workers:
            worker.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


def table(results: Sequence[Result]) -> str:
    """A Markdown table per area: cases tried, held, and each failure class."""
    by_area: dict[str, Counter[str]] = defaultdict(Counter)
    for result in results:
        by_area[result.area][result.outcome] += 1
    classes = ("ok", "typed", "untyped", "memory", "over-budget", "wrong", "hang", "signal")
    lines = ["| area | cases | held | " + " | ".join(classes) + " |", "|---" * (len(classes) + 3) + "|"]
    for area in sorted(by_area):
        counts = by_area[area]
        held = counts["ok"] + counts["typed"]
        lines.append(
            f"| {area} | {sum(counts.values())} | {held} | " + " | ".join(str(counts[c]) for c in classes) + " |"
        )
    return "\n".join(lines)


def failures(results: Sequence[Result]) -> list[Result]:
    return [r for r in results if not r.held]


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        sys.exit(worker_main())
    print("usage: python -m ziggurat.testing.fuzz --worker (see bench/fuzz.py for a run)", file=sys.stderr)
    sys.exit(2)
