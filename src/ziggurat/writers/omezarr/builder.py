"""The one OME-Zarr writer: streaming, chunk-aligned, memory-bounded, local pool or Dask cluster.

``ziggurat pyramid`` (every spatial axis halved, 64³ chunks, zstd-1) and ``ziggurat convert``
(``halve="yx"``: slices stay slices, chunk presets, a level cap, lz4hc-9, the source's metadata)
both call :func:`build_pyramid`.

The work is cut into independent **block tasks**. A pass starts from one level ``s`` (level 0 is the
input) and builds the next ``m`` levels: a task reads one block of ``chunk * 2**m`` (or a multiple,
see ``shard_bytes``) per halved axis from level ``s``, writes it (pass 0 only: level 0 is a copy of
the input), halves it ``m`` times and writes each result, which is exactly one whole shard of its
level (shards shrink by 2 per level, so no two tasks touch one file and nothing is read back and
rewritten). The next pass starts from level ``s + m`` (1/8**m as large in 3-D), so each input byte
is read once. ``m`` and the number of concurrent tasks are chosen so that (concurrent tasks) x
(bytes a task holds) stays under the memory budget, whatever the input size; tasks run on a local
thread pool or, given a ``dask.distributed.Client``, on its workers (each opens its own handles: the
task carries only paths and the picklable :class:`~ziggurat.writers.omezarr.inputs.InputArray`).
Output goes to a temporary sibling renamed into place at the end, so an interrupted run leaves
nothing that looks complete.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import UnsupportedFormatError
from ...io.atomic import atomic_path
from ...io.upload import staged, upload_tree
from ...kernels import METHODS, reduce2
from ...sources.base import Metadata
from .inputs import InputArray
from .ngff import PYRAMID_COMPRESSION, chunk_shape, codec, ngff_attributes, omero, world
from .shards import Mapper, Stored, array_metadata, write_shard

SPATIAL_CHUNK = {3: 64, 2: 512}  # chunk edge per spatial axis: 64^3 voxels in 3-D, 512^2 pixels in 2-D
TASK_FACTOR = {"mean": 4, "nearest": 3, "mode": 7}  # bytes held by a task per byte of its input block
RESERVE = 32 * 2**20  # measured: thread arenas, codec buffers and index caches on top of the blocks
TASK_BYTES = 32 * 2**20  # deeper blocks than this only add memory: later passes re-read 1/8**depth
SHARD_BYTES = 256 * 2**20  # convert: a shard (one file) holds at most this much raw data
MIN_LEVEL = 64  # convert: stop the pyramid when a halved axis would fall below this


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
        return list(np.ndindex(*(math.ceil(n / b) for n, b in zip(shape, self.block, strict=True))))


@dataclass(frozen=True)
class Plan:
    axes: str
    halved: tuple[int, ...]
    dtype: np.dtype[Any]
    levels: tuple[LevelSpec, ...]
    passes: tuple[Pass, ...]
    workers: int

    def task_bytes(self, p: Pass) -> int:
        return math.prod(p.block) * self.dtype.itemsize


def plan(
    shape: Sequence[int],
    dtype: np.dtype[Any],
    axes: str,
    *,
    memory: int,
    workers: int,
    method: str = "mean",
    halve: str | None = None,
    chunks: str | Sequence[int] | None = None,
    spacing: Sequence[float] | None = None,
    levels: int | None = None,
    min_size: int | None = None,
    shard_bytes: int | None = None,
) -> Plan:
    """Levels, shard shapes, passes and concurrency for a pyramid of an array, within ``memory`` bytes.

    ``halve``: the axes each level halves (default: every spatial axis). ``chunks``: a preset
    (``axial``, ``isotropic``, ``auto``) or ``(z, y, x)``; default 64³ (3-D) or 512² (2-D).
    ``levels`` caps the level count; ``min_size``: stop before a halved axis falls below it
    (default: stop when the halved axes fit one chunk). ``shard_bytes``: grow each task's block
    (whole planes first, then deeper along unhalved axes) up to this many bytes, so small stores are
    a few files (default: blocks of ``chunk * 2**depth``, shards of one chunk on a pass's last level).
    """
    shape = tuple(int(n) for n in shape)
    spatial = [i for i, a in enumerate(axes) if a in "zyx"]
    if len(axes) != len(shape) or len(spatial) not in SPATIAL_CHUNK:
        raise UnsupportedFormatError(f"axes {axes!r}: need y x (2-D) or z y x (3-D) to build a pyramid")
    halve = "".join(axes[i] for i in spatial) if halve is None else halve
    if not halve or any(a not in "zyx" or a not in axes for a in halve):
        raise UnsupportedFormatError(f"halve={halve!r}: choose spatial axes of {axes!r}")
    halved = tuple(i for i, a in enumerate(axes) if a in halve)
    if chunks is None:
        edge = SPATIAL_CHUNK[len(spatial)]
        chunk = tuple(edge if i in spatial else (n if a == "c" and n <= 4 else 1)
                      for i, (a, n) in enumerate(zip(axes, shape, strict=True)))  # fmt: skip
    else:
        chunk = chunk_shape(chunks, axes, shape, spacing or (1.0,) * len(shape))
    shapes = [shape]
    while levels is None or len(shapes) < levels:
        last = shapes[-1]
        if min_size is not None and min(last[i] for i in halved) // 2 < min_size:
            break
        if min_size is None and all(last[i] <= chunk[i] for i in halved):
            break
        shapes.append(tuple(math.ceil(n / 2) if i in halved else n for i, n in enumerate(last)))
    itemsize = np.dtype(dtype).itemsize

    def block(depth: int) -> tuple[int, ...]:
        return tuple(c << depth if i in halved else c for i, c in enumerate(chunk))

    per_task = TASK_FACTOR[method] * itemsize
    memory = max(memory - RESERVE, 0)
    depth = 1
    while (math.prod(block(depth + 1)) * itemsize <= TASK_BYTES
           and workers * per_task * math.prod(block(depth + 1)) <= memory):  # fmt: skip
        depth += 1
    passes: list[Pass] = []
    shards: dict[int, tuple[int, ...]] = {}
    source = 0
    while source < len(shapes) - 1 or not passes:
        d = min(depth, len(shapes) - 1 - source)
        grown = block(d)
        if shard_bytes is not None:
            grown = _grow(grown, shapes[source], chunk, halved, spatial, itemsize,
                          max(min(shard_bytes, memory // per_task), 1))  # fmt: skip
        passes.append(Pass(source, d, grown))
        for j in range(0 if source == 0 else 1, d + 1):
            shards[source + j] = tuple(b >> j if i in halved else b for i, b in enumerate(grown))
        source += d
    specs = []
    for i, s in enumerate(shapes):
        inner = tuple(min(c, n) for c, n in zip(chunk, s, strict=True))
        shard = tuple(sh if sh < n else math.ceil(n / c) * c for sh, n, c in zip(shards[i], s, inner, strict=True))
        specs.append(LevelSpec(s, inner, shard))
    biggest = max(math.prod(p.block) for p in passes)
    workers = max(1, min(workers, memory // (per_task * biggest)))
    return Plan(axes, halved, np.dtype(dtype), tuple(specs), tuple(passes), workers)


def _grow(block: tuple[int, ...], shape: tuple[int, ...], chunk: tuple[int, ...], halved: tuple[int, ...],
          spatial: Sequence[int], itemsize: int, limit: int) -> tuple[int, ...]:  # fmt: skip
    """``block`` enlarged within ``limit`` bytes: halved axes up to the whole extent (in whole multiples,
    so the block still halves evenly), then unhalved spatial axes in whole chunks."""
    out = list(block)

    def nbytes(axis: int, times: int) -> int:  # the block's bytes inside the array
        return math.prod(min(b * (times if i == axis else 1), n) for i, (b, n) in enumerate(zip(out, shape))) * itemsize

    order = [*sorted(halved, reverse=True), *(i for i in spatial if i not in halved)]  # x, y, (z): rows, planes
    for i in order:
        times = math.ceil(shape[i] / out[i])
        while times > 1 and nbytes(i, times) > limit:
            times -= 1
        out[i] *= times
    return tuple(out)


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to run the block tasks of one pass (picklable, small)."""

    source: InputArray | str  # the input, or the path of the level array written by an earlier pass
    out: str
    plan: Plan
    step: Pass
    method: str
    codec: tuple[str, int]
    encoder: ThreadPoolExecutor | None = field(default=None, compare=False)  # local runs only: never pickled

    def __call__(self, block: tuple[int, ...]) -> int:
        """Read one block of the source level, write it (pass 0) and its reductions; returns input bytes."""
        p, step = self.plan, self.step
        src = p.levels[step.source]
        box = [(i * b, min((i + 1) * b, n)) for i, b, n in zip(block, step.block, src.shape, strict=True)]
        if isinstance(self.source, str):
            from ...sources.zarrchunks import ChunkReader

            data = ChunkReader(self.source).read(box)
        else:
            data = self.source.read(box)
        if data.dtype != p.dtype and data.dtype.newbyteorder("=") == p.dtype:
            data = data.astype(p.dtype)  # a big-endian source (NIfTI) is stored little-endian
        if data.shape != tuple(b - a for a, b in box) or data.dtype != p.dtype:
            raise UnsupportedFormatError(f"source returned {data.shape} {data.dtype} for box {box}")
        nbytes = data.nbytes
        if step.source == 0:
            copy = isinstance(self.source, InputArray) and self.source.chunks == p.levels[0].chunks
            stored = self.source.stored_as(self.codec) if isinstance(self.source, InputArray) and copy else None
            self._write(0, block, data, stored)
        for level in range(step.source + 1, step.source + step.depth + 1):
            data = reduce2(data, p.halved, self.method)
            self._write(level, block, data)
        return nbytes

    def _write(self, level: int, index: tuple[int, ...], data: np.ndarray, stored: Stored | None = None) -> None:
        spec = self.plan.levels[level]
        mapper: Mapper | None = self.encoder.map if self.encoder is not None else None
        write_shard(os.path.join(self.out, str(level)), index, data, spec.shape, spec.chunks, spec.shards,
                    self.codec, stored, mapper)  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "encoder": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)


def _run_block(task: Task, block: tuple[int, ...]) -> int:
    return task(block)


def build_pyramid(
    source: str | os.PathLike[str] | object,
    out: str | os.PathLike[str],
    *,
    method: str = "mean",
    memory: int | None = None,
    client: object | None = None,
    workers: int | None = None,
    overwrite: bool = True,
    progress: Callable[[int, int], None] | None = None,
    halve: str | None = None,
    chunks: str | Sequence[int] | None = None,
    levels: int | None = None,
    min_size: int | None = None,
    compression: str = PYRAMID_COMPRESSION,
    meta: Metadata | None = None,
    shard_bytes: int | None = None,
) -> Path | str:
    """Build a multiscale NGFF 0.5 OME-Zarr at ``out`` (a folder, or an ``s3://`` prefix: staged on local
    disk, then uploaded with the top-level metadata last) from ``source``; returns ``out``.

    ``source``: a path or URL (anything ``ziggurat.open`` opens, a Zarr v2/v3 array, an N5 dataset),
    an Image, a Volume or a NumPy array. ``method``: ``mean`` (intensities), ``mode`` (labels) or
    ``nearest``. ``memory``: byte budget for pixel buffers (default: half of psutil's available
    memory). ``client``: a ``dask.distributed.Client`` (or a scheduler address) to run the tasks on.
    ``progress(done, total)`` counts source bytes read. ``halve``, ``chunks``, ``levels``,
    ``min_size`` and ``shard_bytes``: see :func:`plan`. ``compression``: ``zstd-1`` (default),
    ``zstd-5`` or ``lz4hc-9`` (blosc, byte shuffle). ``meta``: spacing, units, affine and extra
    attributes to record (default: the source's axes and spacing).
    """
    if method not in METHODS:
        raise UnsupportedFormatError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    blosc = codec(compression)
    array = source if isinstance(source, InputArray) else InputArray(source)  # type: ignore[arg-type]
    if isinstance(client, str):
        from distributed import Client

        with Client(client) as connected:  # type: ignore[no-untyped-call]
            return build_pyramid(array, out, method=method, memory=memory, client=connected, workers=workers,
                                 overwrite=overwrite, progress=progress, halve=halve, chunks=chunks, levels=levels,
                                 min_size=min_size, compression=compression, meta=meta,
                                 shard_bytes=shard_bytes)  # fmt: skip
    if memory is None:
        import psutil

        memory = psutil.virtual_memory().available // 2
    if workers is None:
        workers = sum(client.nthreads().values()) if client is not None else os.cpu_count() or 1  # type: ignore[attr-defined]
    axes = array.axes
    if meta is None:
        meta = array.metadata
    elif meta.axes != axes or len(meta.scale or ()) != len(axes):
        raise UnsupportedFormatError(f"array has axes {axes!r} but metadata names {meta.axes!r}")
    dtype = array.dtype.newbyteorder("=")
    the_plan = plan(array.shape, dtype, axes, memory=memory, workers=workers, method=method, halve=halve,
                    chunks=chunks, spacing=meta.scale or (1.0,) * len(axes), levels=levels, min_size=min_size,
                    shard_bytes=shard_bytes)  # fmt: skip
    with staged(out, "store.zarr") as (local, remote):  # built on local disk, then uploaded metadata last
        _build(array, local, the_plan, meta, method, blosc, client, workers, overwrite, progress)
        if remote is not None:
            upload_tree(local, remote, overwrite=overwrite)
    return local if remote is None else remote.url


def _build(array: InputArray, out: Path, the_plan: Plan, meta: Metadata, method: str, blosc: Any, client: Any,
           workers: int, overwrite: bool, progress: Callable[[int, int], None] | None) -> None:  # fmt: skip
    total = sum(math.prod(the_plan.levels[s.source].shape) * the_plan.dtype.itemsize for s in the_plan.passes)
    done = 0
    encoder = ThreadPoolExecutor(workers, thread_name_prefix="zig-encode") if client is None and workers > 1 else None
    try:
        with atomic_path(out, directory=True, overwrite=overwrite) as tmp:
            _create_store(tmp, the_plan, meta, method, out.stem, blosc)
            for step in the_plan.passes:
                src = array if step.source == 0 else os.path.join(tmp, str(step.source))
                blocks = step.blocks(the_plan.levels[step.source].shape)
                # too few shards to keep every core busy (small volumes, whole-plane shards): encode
                # each shard's chunks in parallel instead
                task = Task(src, tmp, the_plan, step, method, blosc, encoder if len(blocks) < workers else None)
                for nbytes in _execute(task, blocks, client, the_plan.workers):
                    done += nbytes
                    if progress:
                        progress(done, total)
            _add_omero(tmp, the_plan, meta)
    finally:
        if encoder is not None:
            encoder.shutdown(cancel_futures=True)


def _execute(task: Task, blocks: list[tuple[int, ...]], client: object | None, workers: int) -> Iterable[int]:
    """Run ``task`` on every block; yield each result as it completes."""
    if client is not None:
        from distributed import as_completed as dask_completed

        futures = client.map(_run_block, [task] * len(blocks), blocks, pure=False)  # type: ignore[attr-defined]
        for future in dask_completed(futures):  # type: ignore[no-untyped-call]
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


def _create_store(path: str, p: Plan, meta: Metadata, method: str, name: str, blosc: tuple[str, int]) -> None:
    """The group's NGFF metadata and every level's (empty) array metadata."""
    ome = ngff_attributes(meta, len(p.levels), name, "".join(p.axes[i] for i in p.halved), method)
    attributes: dict[str, Any] = {"ome": ome}
    if meta.affine is not None or meta.extra:
        attributes["ziggurat"] = {"affine": world(meta).tolist(), **meta.extra}
    _write_json(Path(path, "zarr.json"), {"zarr_format": 3, "node_type": "group", "attributes": attributes})
    for i, level in enumerate(p.levels):
        document = array_metadata(level.shape, p.dtype, level.chunks, level.shards, p.axes, blosc)
        _write_json(Path(path, str(i), "zarr.json"), document)


def _add_omero(path: str, p: Plan, meta: Metadata) -> None:
    """Channel names, colours and windows (from the coarsest level) into the group's ``ome`` attribute."""
    last = len(p.levels) - 1
    coarsest = InputArray(os.path.join(path, str(last)), axes=p.axes)
    pixels = coarsest.read([(0, n) for n in p.levels[last].shape])
    group = Path(path, "zarr.json")
    document = json.loads(group.read_text())
    document["attributes"]["ome"]["omero"] = omero(meta, pixels, p.levels[0].shape)
    _write_json(group, document)


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
