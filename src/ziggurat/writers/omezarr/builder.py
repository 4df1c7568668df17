"""Out-of-core multiscale OME-Zarr: streaming, chunk-aligned, memory-bounded, local pool or Dask cluster.

The work is cut into independent **block tasks**. A pass starts from one level ``s`` (level 0 is the
input) and builds the next ``m`` levels: a task reads one block of ``chunk * 2**m`` per halved axis
from level ``s``, writes it (pass 0 only: level 0 is a copy of the input), halves it ``m`` times and
writes each result, which is exactly one whole shard of its level (shards shrink by 2 per level, so
no two tasks touch one file and nothing is read back and rewritten). The next pass starts from level
``s + m`` (1/8**m as large in 3-D), so each input byte is read once. ``m`` and the number of
concurrent tasks are chosen so that (concurrent tasks) x (bytes a task holds) stays under the memory
budget, whatever the input size; tasks run on a local thread pool or, given a
``dask.distributed.Client``, on its workers (each opens its own handles: the task carries only
paths and the picklable :class:`~ziggurat.writers.omezarr.inputs.InputArray`). Output goes to a temporary
sibling renamed into place at the end, so an interrupted run leaves nothing that looks complete.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...io.atomic import atomic_path
from ...errors import UnsupportedFormatError
from ...sources.omezarr import VolumeMeta, ngff_attributes
from .inputs import InputArray
from ...kernels import METHODS, reduce2
from .shards import array_metadata, write_shard

SPATIAL_CHUNK = {3: 64, 2: 512}  # chunk edge per halved axis: 64^3 voxels in 3-D, 512^2 pixels in 2-D
TASK_FACTOR = {"mean": 4, "nearest": 3, "mode": 7}  # bytes held by a task per byte of its input block
RESERVE = 32 * 2**20  # measured: thread arenas, codec buffers and index caches on top of the blocks
TASK_BYTES = 32 * 2**20  # deeper blocks than this only add memory: later passes re-read 1/8**depth


@dataclass(frozen=True)
class LevelSpec:
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...]


@dataclass(frozen=True)
class Pass:
    """Build levels ``source + 1 .. source + depth`` from level ``source`` in blocks of ``block``."""

    source: int
    depth: int
    block: tuple[int, ...]

    def blocks(self, shape: Sequence[int]) -> list[tuple[int, ...]]:
        return list(np.ndindex(*(math.ceil(n / b) for n, b in zip(shape, self.block))))


@dataclass(frozen=True)
class Plan:
    axes: str
    halved: tuple[int, ...]
    dtype: np.dtype
    levels: tuple[LevelSpec, ...]
    passes: tuple[Pass, ...]
    workers: int

    def task_bytes(self, p: Pass) -> int:
        return math.prod(p.block) * self.dtype.itemsize


def plan(shape: Sequence[int], dtype: np.dtype, axes: str, *, memory: int, workers: int, method: str = "mean") -> Plan:
    """Levels, shard shapes, passes and concurrency for a pyramid of an array, within ``memory`` bytes."""
    halved = tuple(i for i, a in enumerate(axes) if a in "zyx")
    if len(halved) not in SPATIAL_CHUNK:
        raise UnsupportedFormatError(f"axes {axes!r}: need y x (2-D) or z y x (3-D) to build a pyramid")
    edge = SPATIAL_CHUNK[len(halved)]
    chunk = tuple(min(edge, n) if i in halved else (n if a == "c" and n <= 4 else 1)
                  for i, (a, n) in enumerate(zip(axes, shape)))  # fmt: skip
    shapes = [tuple(int(n) for n in shape)]
    while max(shapes[-1][i] for i in halved) > edge:
        shapes.append(tuple(math.ceil(n / 2) if i in halved else n for i, n in enumerate(shapes[-1])))
    itemsize = np.dtype(dtype).itemsize

    def block(depth: int) -> tuple[int, ...]:
        return tuple(c << depth if i in halved else c for i, c in enumerate(chunk))

    per_task = TASK_FACTOR[method] * itemsize
    memory = max(memory - RESERVE, 0)
    depth = 1
    while (math.prod(block(depth + 1)) * itemsize <= TASK_BYTES
           and workers * per_task * math.prod(block(depth + 1)) <= memory):  # fmt: skip
        depth += 1
    workers = max(1, min(workers, memory // (per_task * math.prod(block(depth)))))
    passes: list[Pass] = []
    shard_depth = {0: min(depth, len(shapes) - 1)}
    source = 0
    while source < len(shapes) - 1:
        d = min(depth, len(shapes) - 1 - source)
        passes.append(Pass(source, d, block(d)))
        for j in range(1, d + 1):
            shard_depth[source + j] = d - j
        source += d
    levels = tuple(LevelSpec(s, chunk, block(shard_depth[i]))
                   for i, s in enumerate(shapes))  # fmt: skip
    if not passes:  # already small: one level, one shard
        passes = [Pass(0, 0, block(0))]
    return Plan(axes, halved, np.dtype(dtype), levels, tuple(passes), workers)


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to run the block tasks of one pass (picklable, small)."""

    source: InputArray | str  # the input, or the path of the level array written by an earlier pass
    out: str
    plan: Plan
    step: Pass
    method: str

    def __call__(self, block: tuple[int, ...]) -> int:
        """Read one block of the source level, write it (pass 0) and its reductions; returns input bytes."""
        p, step = self.plan, self.step
        src = p.levels[step.source]
        box = [(i * b, min((i + 1) * b, n)) for i, b, n in zip(block, step.block, src.shape)]
        if isinstance(self.source, str):
            from ...sources.zarrchunks import ChunkReader

            data = ChunkReader(self.source).read(box)
        else:
            data = self.source.read(box)
        if data.shape != tuple(b - a for a, b in box) or data.dtype != p.dtype:
            raise UnsupportedFormatError(f"source returned {data.shape} {data.dtype} for box {box}")
        nbytes = data.nbytes
        if step.source == 0:
            stored = self.source.stored if self.source.chunks == p.levels[0].chunks else None
            self._write(0, block, data, stored)
        for level in range(step.source + 1, step.source + step.depth + 1):
            data = reduce2(data, p.halved, self.method)
            self._write(level, block, data)
        return nbytes

    def _write(self, level: int, index: tuple[int, ...], data: np.ndarray, stored=None) -> None:
        spec = self.plan.levels[level]
        write_shard(os.path.join(self.out, str(level)), index, data, spec.shape, spec.chunks, spec.shards, stored)


def _run_block(task: Task, block: tuple[int, ...]) -> int:
    return task(block)


def build_pyramid(
    source: str | os.PathLike | object,
    out: str | os.PathLike,
    *,
    method: str = "mean",
    memory: int | None = None,
    client: object | None = None,
    workers: int | None = None,
    overwrite: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Build a multiscale NGFF 0.5 OME-Zarr at ``out`` from ``source``; returns ``out``.

    ``source``: a path or URL (anything ``ziggurat.open`` opens, a Zarr v2/v3 array, an N5 dataset),
    an Image or a Volume. ``method``: ``mean`` (intensities), ``mode`` (labels) or ``nearest``.
    ``memory``: byte budget for pixel buffers (default: half of psutil's available memory).
    ``client``: a ``dask.distributed.Client`` (or a scheduler address) to run the tasks on.
    ``progress(done, total)`` counts source bytes read.
    """
    if method not in METHODS:
        raise UnsupportedFormatError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    array = source if isinstance(source, InputArray) else InputArray(source)
    if isinstance(client, str):
        from distributed import Client

        with Client(client) as connected:
            return build_pyramid(array, out, method=method, memory=memory, client=connected,
                                 workers=workers, overwrite=overwrite, progress=progress)  # fmt: skip
    if memory is None:
        import psutil

        memory = psutil.virtual_memory().available // 2
    if workers is None:
        workers = sum(client.nthreads().values()) if client is not None else os.cpu_count() or 1
    axes = array.axes
    the_plan = plan(array.shape, array.dtype, axes, memory=memory, workers=workers, method=method)
    out = Path(out)
    total = sum(math.prod(the_plan.levels[s.source].shape) * the_plan.dtype.itemsize for s in the_plan.passes)
    done = 0
    with atomic_path(out, directory=True, overwrite=overwrite) as tmp:
        _create_store(tmp, the_plan, array, method, out.stem)
        for step in the_plan.passes:
            src = array if step.source == 0 else os.path.join(tmp, str(step.source))
            task = Task(src, tmp, the_plan, step, method)
            for nbytes in _execute(task, step.blocks(the_plan.levels[step.source].shape), client, the_plan.workers):
                done += nbytes
                if progress:
                    progress(done, total)
    return out


def _execute(task: Task, blocks: list[tuple[int, ...]], client: object | None, workers: int) -> Iterable[int]:
    """Run ``task`` on every block; yield each result as it completes."""
    if client is not None:
        from distributed import as_completed as dask_completed

        futures = client.map(_run_block, [task] * len(blocks), blocks, pure=False)
        for future in dask_completed(futures):
            yield future.result()
        return
    if workers == 1 or len(blocks) == 1:
        yield from map(task, blocks)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="zig-pyramid") as pool:
        futures = [pool.submit(task, b) for b in blocks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _create_store(path: str, p: Plan, array: InputArray, method: str, name: str) -> None:
    """The group's NGFF metadata and every level's (empty) array metadata."""
    axes = p.axes
    spacing = array.spacing or (1.0,) * len(axes)
    by_axis = dict(zip(axes, spacing))
    affine = np.diag([by_axis.get("x", 1.0), by_axis.get("y", 1.0), by_axis.get("z", 1.0), 1.0])
    meta = VolumeMeta(tuple(axes), tuple(spacing), affine)
    ome = ngff_attributes(meta, len(p.levels), name, halved="".join(axes[i] for i in p.halved))
    ome["multiscales"][0]["type"] = method
    _write_json(Path(path, "zarr.json"), {"zarr_format": 3, "node_type": "group", "attributes": {"ome": ome}})
    for i, level in enumerate(p.levels):
        _write_json(Path(path, str(i), "zarr.json"), array_metadata(level.shape, p.dtype, level.chunks, level.shards, axes))


def _write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
