"""The long fuzzing run: many mutated copies of every seed image, read in limited workers.

    python -m bench fuzz                  # 60 cases per seed (the figures in docs/reliability.md)
    python -m bench fuzz --per-seed 200   # longer
    python -m bench fuzz --quick          # 2 cases per seed (the test suite runs this)

Prints the per-area table (cases tried, held, each failure class), the slowest cases, every failure,
and exits 1 when any case failed. Seeds are generated into $ZIGGURAT_BENCH_DATA/fuzz-seeds and the real
files come from ../shared/realdata (or $ZIGGURAT_REALDATA) when present.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ziggurat.testing import fuzz
from ziggurat.testing.fuzz_corpus import cases, generated_seeds, real_seeds

from .harness import DATA_DIR

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fuzz")
    parser.add_argument("--quick", action="store_true", help="2 cases per seed")
    parser.add_argument("--per-seed", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--seed", default="ziggurat", help="the corpus seed (same seed, same cases)")
    args = parser.parse_args(argv)
    realdata = Path(os.environ.get("ZIGGURAT_REALDATA", REPO.parent / "shared" / "realdata"))
    seeds = generated_seeds(Path(DATA_DIR) / "fuzz-seeds") + real_seeds(realdata if realdata.is_dir() else None)
    corpus = cases(seeds, 2 if args.quick else args.per_seed, args.seed)
    start = time.perf_counter()
    results = fuzz.run(corpus, jobs=args.jobs, timeout=args.timeout)
    elapsed = time.perf_counter() - start
    print(f"{len(results)} cases, {len(seeds)} seeds, {elapsed:.0f} s on {args.jobs} workers (seed {args.seed!r})\n")
    print(fuzz.table(results))
    kinds = sorted({r.kind for r in results})
    print("\n| mutation | cases | held |\n|---|---|---|")
    for kind in kinds:
        mine = [r for r in results if r.kind == kind]
        print(f"| {kind} | {len(mine)} | {sum(r.held for r in mine)} |")
    slowest = sorted(results, key=lambda r: -r.seconds)[:5]
    peak = max(results, key=lambda r: r.peak_rss)
    print("\nslowest: " + ", ".join(f"{r.id} {r.seconds:.1f} s" for r in slowest))
    print(f"largest peak-RSS growth: {peak.id} {peak.peak_rss / 2**20:.0f} MiB")
    for result in fuzz.failures(results):
        print(f"FAILED {result.id}: {result.outcome}: {result.detail}")
    return 1 if fuzz.failures(results) else 0
