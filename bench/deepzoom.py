"""DeepZoomGenerator.get_tile over a whole slide: ziggurat.openslide.deepzoom vs openslide.deepzoom.

    python -m bench deepzoom            # 40,000 x 30,000 generated JPEG slide (256 px tiles, q90)
    python -m bench deepzoom --quick    # 2,000 x 1,500 (the test suite runs this)

The same code runs on both modules — open the slide, make a ``DeepZoomGenerator(slide, 254, 1)``,
call ``get_tile`` on every tile of every level, row by row, as openslide's ``deepzoom_tile.py``
does — each tool in its own fresh process (its own caches, one process, the threads it starts).
ziggurat runs ``--repeat`` times (median), openslide once, alternating. A second case adds the
JPEG ``save`` that a tiler or server does with each tile. A pixel check reports the mean absolute
difference of the two modules' tiles on a sample of the full-resolution level.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .harness import sample_slide

REPO = Path(__file__).resolve().parent.parent
MODULES = {"ziggurat": "ziggurat.openslide", "openslide": "openslide"}
CASES = ("get_tile", "get_tile + save JPEG q75")


def _generator(tool: str, slide: str) -> Any:
    module = __import__(MODULES[tool], fromlist=["deepzoom"])
    return module.deepzoom.DeepZoomGenerator(module.open_slide(slide), 254, 1)


def _child(tool: str, slide: str, case: str) -> dict[str, Any]:
    """Every tile of every level, in one process; seconds, tiles and peak RSS."""
    start = time.perf_counter()
    dz = _generator(tool, slide)
    save = case != "get_tile"
    n = 0
    for level in range(dz.level_count):
        cols, rows = dz.level_tiles[level]
        for row in range(rows):
            for col in range(cols):
                tile = dz.get_tile(level, (col, row))
                if save:
                    tile.save(io.BytesIO(), "jpeg", quality=75)
                n += 1
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "tiles": n, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(tool: str, slide: Path, case: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench", "deepzoom", "--child", tool, "--slide", str(slide), "--case", case]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def agreement(slide: Path, samples: int = 24) -> float:
    """Mean absolute difference between the modules' tiles at the full-resolution level."""
    import numpy as np

    ours, theirs = _generator("ziggurat", str(slide)), _generator("openslide", str(slide))
    level = ours.level_count - 1
    cols, rows = ours.level_tiles[level]
    diffs = []
    for i in range(samples):
        address = (i * 7919 % cols, i * 104729 % rows)
        a, b = (np.asarray(g.get_tile(level, address), float) for g in (ours, theirs))
        diffs.append(float(np.abs(a - b).mean()))
    return statistics.fmean(diffs)


def table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    lines = ["| case | tool | wall (s) | tiles | tiles/s | peak RSS (MB) | ziggurat tiles/s / tool tiles/s |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    ours = {case: r["tiles"] / r["seconds"] for case, tool, r in rows if tool == "ziggurat" and "seconds" in r}
    for case, tool, r in rows:
        if "error" in r:
            lines.append(f"| {case} | {tool} | failed: {r['error']} | | | | |")
            continue
        rate = r["tiles"] / r["seconds"]
        ratio = "" if tool == "ziggurat" or case not in ours else f"{ours[case] / rate:.2f}x"
        lines.append(f"| {case} | {tool} | {r['seconds']:.2f} | {r['tiles']:,} | {rate:,.0f} "
                     f"| {r['peak_rss_mb']:.0f} | {ratio} |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench deepzoom")
    parser.add_argument("--quick", action="store_true", help="2,000 x 1,500 slide")
    parser.add_argument("--repeat", type=int, help="ziggurat runs per case (median; 3, quick 1)")
    parser.add_argument("--child", choices=sorted(MODULES), help=argparse.SUPPRESS)
    parser.add_argument("--slide", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.slide, args.case)))
        return 0
    width, height = (2000, 1500) if args.quick else (40_000, 30_000)
    slide = sample_slide(width, height)
    repeat = args.repeat or (1 if args.quick else 3)
    print(f"slide {slide.name}: {width} x {height}; DeepZoomGenerator(slide, 254, 1), every tile of every level")
    rows = []
    for case in CASES:
        runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in MODULES}
        for i in range(repeat):  # alternate, so a burst of load hits both alike
            for tool in MODULES:
                if i == 0 or tool == "ziggurat":
                    runs[tool].append(measure(tool, slide, case))
                    print(f"  {case}: {tool}: {runs[tool][-1]}", flush=True)
        for tool, results in runs.items():
            ok = sorted((r for r in results if "error" not in r), key=lambda r: r["seconds"])
            rows.append((case, tool, ok[len(ok) // 2] if ok else results[0]))
    table(rows)
    print(f"pixels: mean abs difference of full-resolution tiles, ziggurat vs openslide: {agreement(slide):.3f}")
    return 1 if any("error" in r for _, _, r in rows) else 0
