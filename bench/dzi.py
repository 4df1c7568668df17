"""DeepZoom pyramids: ziggurat vs libvips dzsave vs openslide DeepZoomGenerator vs large_image.

    python -m bench dzi            # 40,000 x 30,000 generated JPEG slide (256 px tiles, q90)
    python -m bench dzi --quick    # 2,000 x 1,500 (the test suite runs this)

Every tool runs in its own subprocess on the same file, writing JPEG q90 tiles to disk, so each
one's wall time, CPU time and peak RSS are its own; ziggurat and dzsave run three times,
alternating, and the median run is reported. Cases: DeepZoom 254 px + 1 overlap, and the
pass-through case 256 px + 0 overlap (the file's own tile grid), with a plain file copy of the
slide for reference. large_image serves its own 256 px tile grid (getTile over every tile).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import DATA_DIR, sample_slide

REPO = Path(__file__).resolve().parent.parent
TOOLS = (
    "ziggurat",
    "pyvips dzsave",
    "openslide 1 proc",
    "openslide 2 procs",
    "large_image",
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the tools, each run inside its own child process ----------------------------------------
def run_ziggurat(slide: str, out: str, tile: int, overlap: int, quality: int) -> dict[str, Any]:
    """The ``ziggurat dzi`` command, as users run it."""
    from ziggurat.cli import main

    metrics = Path(f"{out}.metrics.json")
    main(["dzi", slide, out, "--tile-size", str(tile), "--overlap", str(overlap),
          "--quality", str(quality), "--quiet", "--metrics", str(metrics)])  # fmt: skip
    result = json.loads(metrics.read_text())
    return {"tiles": result["tiles"], "copied": result["copied_tiles"]}


def run_pyvips(slide: str, out: str, tile: int, overlap: int, quality: int) -> dict[str, Any]:
    import pyvips

    image = pyvips.Image.new_from_file(slide, access="sequential")
    image.dzsave(out, tile_size=tile, overlap=overlap, suffix=f".jpg[Q={quality}]")
    return {"tiles": sum(1 for _ in Path(f"{out}_files").rglob("*.jpg"))}


def _openslide_tiles(slide: str, out: str, tile: int, overlap: int, quality: int,
                     part: int, parts: int) -> dict[str, Any]:  # fmt: skip
    """Write every ``parts``-th tile row (from ``part``) of each level, as deepzoom_tile.py does."""
    import openslide
    from openslide.deepzoom import DeepZoomGenerator

    dz = DeepZoomGenerator(openslide.OpenSlide(slide), tile, overlap)
    n = 0
    for level in range(dz.level_count):
        folder = Path(f"{out}_files") / str(level)
        folder.mkdir(parents=True, exist_ok=True)
        cols, rows = dz.level_tiles[level]
        for row in range(part, rows, parts):
            for col in range(cols):
                dz.get_tile(level, (col, row)).save(folder / f"{col}_{row}.jpg", quality=quality)
                n += 1
    return {"tiles": n, "peak_rss_mb": _peak_mb()}


def run_openslide_1(slide: str, out: str, tile: int, overlap: int, quality: int) -> dict[str, Any]:
    return {"tiles": _openslide_tiles(slide, out, tile, overlap, quality, 0, 1)["tiles"]}


def run_openslide_2(slide: str, out: str, tile: int, overlap: int, quality: int) -> dict[str, Any]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        futures = [pool.submit(_openslide_tiles, slide, out, tile, overlap, quality, p, 2) for p in (0, 1)]
        parts = [f.result() for f in futures]
    # this process's peak plus each worker's own
    peak = _peak_mb() + sum(p["peak_rss_mb"] for p in parts)
    return {"tiles": sum(p["tiles"] for p in parts), "peak_rss_mb": peak}


def run_large_image(slide: str, out: str, tile: int, overlap: int, quality: int) -> dict[str, Any]:
    import large_image

    source = large_image.open(slide, encoding="JPEG", jpegQuality=quality)
    n = 0
    for z in range(source.levels):
        folder = Path(out) / str(z)
        folder.mkdir(parents=True)
        scale = 2 ** (source.levels - 1 - z)
        cols = -(-source.sizeX // (source.tileWidth * scale))
        rows = -(-source.sizeY // (source.tileHeight * scale))
        for y in range(rows):
            for x in range(cols):
                (folder / f"{x}_{y}.jpg").write_bytes(source.getTile(x, y, z))
                n += 1
    return {"tiles": n}


def run_copy(slide: str, out: str, tile: int, overlap: int, quality: int) -> dict[str, Any]:
    shutil.copyfile(slide, f"{out}.tif")
    return {"tiles": 0}


RUNNERS = {
    "ziggurat": run_ziggurat, "pyvips dzsave": run_pyvips, "openslide 1 proc": run_openslide_1,
    "openslide 2 procs": run_openslide_2, "large_image": run_large_image, "file copy": run_copy,
}  # fmt: skip


def _child(args: argparse.Namespace) -> int:
    """Run one tool and print its result as one JSON line."""
    start = time.perf_counter()
    result = RUNNERS[args.child](args.slide, args.out, args.tile, args.overlap, args.quality)
    result["seconds"] = time.perf_counter() - start
    result.setdefault("peak_rss_mb", _peak_mb())
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    result["cpu_s"] = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    print(json.dumps(result))
    return 0


# -- the parent: one subprocess per tool and case ---------------------------------------------
def measure(tool: str, slide: Path, tile: int, overlap: int, quality: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dzi-", dir=DATA_DIR))
    try:
        cmd = [sys.executable, "-m", "bench", "dzi", "--child", tool, "--slide", str(slide),
               "--out", str(work / "out"), "--tile", str(tile), "--overlap", str(overlap),
               "--quality", str(quality)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
            return {"error": lines[-1]}
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["pixels"] = _probe_pixels(work / "out_files")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.sync()  # the next run should not pay for this one's writeback


def _probe_pixels(files: Path) -> Any:
    """Level (finest - 1) of a DeepZoom tree, first tile row, decoded (None if no such tree):
    what the tools must agree on — it exercises the 2x reduce as well as the tile grid."""
    import imagecodecs
    import numpy as np

    levels = sorted((int(p.name) for p in files.iterdir() if p.name.isdigit()), reverse=True) if files.is_dir() else []
    if len(levels) < 2:
        return None
    row = sorted(files.glob(f"{levels[1]}/*_0.jpg"), key=lambda p: int(p.stem.split("_")[0]))
    return np.concatenate([imagecodecs.jpeg8_decode(p.read_bytes()) for p in row], axis=1).astype(np.int16)


def agreement(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    """Mean absolute difference of each tool's probe pixels against libvips dzsave's, per case."""
    import numpy as np

    anchor = {case: r.get("pixels") for case, tool, r in rows if tool == "pyvips dzsave"}
    lines = ["| case | tool | mean abs diff vs dzsave (level finest-1, row 0) |", "|---|---|---|"]
    for case, tool, r in rows:
        ref, ours = anchor.get(case), r.get("pixels")
        if tool == "pyvips dzsave" or ref is None or ours is None:
            continue
        diff = f"{np.abs(ours - ref).mean():.2f}" if ours.shape == ref.shape else f"shape {ours.shape} != {ref.shape}"
        lines.append(f"| {case} | {tool} | {diff} |")
    text = "\n".join(lines)
    print(text)
    return text


def _encode_all(tiles: list[Any], quality: int) -> int:
    import imagecodecs

    return sum(len(imagecodecs.jpeg8_encode(t, level=quality, subsampling="444")) for t in tiles)


def encode_scaling(slide: Path, quality: int, n: int) -> str:
    """JPEG-encode ``n`` 254 px tiles of the slide: 1 thread, 2 threads, 2 processes (tiles/s)."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    import ziggurat

    image = ziggurat.open(slide)
    side = int(n**0.5) + 1
    block = image.levels[0].rect(0, 0, min(side * 254, image.levels[0].shape[0] // 254 * 254),
                                 min(side * 254, image.levels[0].shape[1] // 254 * 254))  # fmt: skip
    tiles = [block[y : y + 254, x : x + 254].copy()
             for y in range(0, block.shape[0], 254) for x in range(0, block.shape[1], 254)][:n]  # fmt: skip
    halves = [tiles[0::2], tiles[1::2]]
    lines = ["| JPEG encode | tiles/s |", "|---|---|"]
    start = time.perf_counter()
    _encode_all(tiles, quality)
    lines.append(f"| 1 thread | {len(tiles) / (time.perf_counter() - start):,.0f} |")
    for name, pool in (
        ("2 threads", ThreadPoolExecutor(2)),
        ("2 processes", ProcessPoolExecutor(2)),
    ):
        with pool:
            list(pool.map(_encode_all, [tiles[:2], tiles[:2]], [quality] * 2))  # warm up workers
            start = time.perf_counter()
            list(pool.map(_encode_all, halves, [quality] * 2))
            lines.append(f"| {name} | {len(tiles) / (time.perf_counter() - start):,.0f} |")
    text = "\n".join(lines)
    print(text)
    return text


def _median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, with the highest peak RSS of all runs."""
    ok = sorted((r for r in results if "error" not in r), key=lambda r: r["seconds"])
    if not ok:
        return results[0]
    return {**ok[len(ok) // 2], "peak_rss_mb": max(r["peak_rss_mb"] for r in ok)}


def table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    lines = ["| case | tool | wall (s) | CPU (s) | tiles | tiles/s | peak RSS (MB) | tool time / ziggurat time |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ours = {case: r["seconds"] for case, tool, r in rows if tool == "ziggurat" and "seconds" in r}
    for case, tool, r in rows:
        if "error" in r:
            lines.append(f"| {case} | {tool} | failed: {r['error']} | | | | | |")
            continue
        rate = f"{r['tiles'] / r['seconds']:,.0f}" if r["tiles"] else ""
        ratio = "" if tool == "ziggurat" or case not in ours else f"{r['seconds'] / ours[case]:.2f}x"
        tiles = f"{r['tiles']:,}" + (f" ({r['copied']:,} copied)" if r.get("copied") else "")
        lines.append(
            f"| {case} | {tool} | {r['seconds']:.2f} | {r['cpu_s']:.1f} | {tiles} | {rate} "
            f"| {r['peak_rss_mb']:.0f} | {ratio} |"
        )
    text = "\n".join(lines)
    print(text)
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dzi")
    parser.add_argument("--quick", action="store_true", help="2,000 x 1,500 slide")
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs of ziggurat and dzsave, alternating (median; 3, quick 1)",
    )
    parser.add_argument("--child", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--slide", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--tile", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--overlap", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    width, height = (2000, 1500) if args.quick else (40_000, 30_000)
    slide = sample_slide(width, height)
    tools = [t for t in args.tools.split(",") if t]
    print(f"slide {slide.name}: {width} x {height}, JPEG q90 256 px tiles; output JPEG q{args.quality}")
    repeat = args.repeat or (1 if args.quick else 3)
    rows = []
    for case, tile, overlap, case_tools in (
        ("DeepZoom 254/1", 254, 1, tools),
        (
            "pass-through 256/0",
            256,
            0,
            [t for t in ("ziggurat", "pyvips dzsave") if t in tools] + ["file copy"],
        ),
    ):
        runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in case_tools}
        for i in range(repeat):  # alternate the tools, so a burst of load hits them alike
            for tool in case_tools:
                if i == 0 or tool in ("ziggurat", "pyvips dzsave"):
                    runs[tool].append(measure(tool, slide, tile, overlap, args.quality))
                    print(f"  {case}: {tool}: {runs[tool][-1]}", flush=True)
        rows += [(case, tool, _median_run(results)) for tool, results in runs.items()]
    table(rows)
    agreement(rows)
    encode_scaling(slide, args.quality, 200 if args.quick else 4000)
    return 1 if any("error" in r for case, tool, r in rows if tool in ("ziggurat", "pyvips dzsave")) else 0
