"""The source conformance suite, shipped like ``zarr.testing.store.StoreTests``.

Every backend's test module subclasses :class:`SourceTests` in a few lines: it says how to open the
image (an ``image`` fixture, or a ``path`` fixture plus ``open_options``) and what an *independent*
library reads from the same data (a ``reference`` fixture, or ``read_reference``). The suite then
checks, for every level:

- reads equal the reference: whole levels and random boxes (chunk-edge crossing, far-edge touching,
  single elements, empty boxes), each a new writable C-contiguous array;
- metadata: axes (one letter per dimension, the reference's layout), shape/dtype/chunks per level,
  scale/units lengths, the registry's ``detect``;
- out-of-range boxes, indices and levels raise :class:`~ziggurat.errors.OutOfRangeError`;
- NumPy basic indexing on levels and on the image equals the same indexing of the reference, and
  unsupported keys (negative steps, fancy, boolean, ``None``) raise a ZigguratError;
- pickling reopens (small pickles for files), ``fork`` and ``spawn`` pool workers read what the
  parent reads (the parent's handles keep working after a fork), 8 threads agree with one;
- the slide view (``read_region`` padding and alpha like openslide) and the volume view
  (``axial``/``coronal``/``sagittal``, :func:`ziggurat.plane`), and :class:`~ziggurat.errors.AxesError`
  for the view the axes do not allow.

The checks are plain functions (``check_*``) so they can be run on any Image, and the suite's own
tests show that each of them fails on a broken source. Reference readers for the usual libraries
(``tiff_reference``, ``openslide_reference``, ``nifti_reference``, …) import their library lazily.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import random
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from ..errors import AxesError, OutOfRangeError, ZigguratError
from ..model.image import Image
from ..model.planes import plane
from ..sources.base import SLIDE_AXES, Box
from ..sources.registry import detect

__all__ = [
    "Reference",
    "SourceTests",
    "array_reference",
    "dicom_reference",
    "n5_reference",
    "nifti_reference",
    "omezarr_reference",
    "openslide_reference",
    "pillow_reference",
    "sample_boxes",
    "tiff_reference",
    "tiff_stack_reference",
    "tiffstack_reference",
    "zarr_reference",
]

#: a read of one level: (level index, box)
Read = tuple[int, Box]

AXIS_LETTERS = "tczyx"
#: a coarsest level up to this many elements gets every slicing key (many read it whole)
FULL_SLICING_ELEMENTS = 2**22


# -- the reference ----------------------------------------------------------------------------
@dataclass
class Reference:
    """What an independent library reads: the truth a source is checked against.

    ``levels`` are finest first, in the axis order ``axes`` (byte order is made native). ``scale``
    is the level-0 physical step per axis the library reports (None where it does not say).
    ``exact_dtype=False`` means the library widens the pixel type (pydicom's rescale gives float64):
    values are compared after a lossless cast to the image's dtype.
    """

    levels: list[np.ndarray]
    axes: str
    scale: tuple[float | None, ...] | None = None
    exact_dtype: bool = True

    def __post_init__(self) -> None:
        self.levels = [_native(np.asarray(level)) for level in self.levels]

    def __repr__(self) -> str:  # short: pytest prints it with every failure
        shapes = ", ".join(f"{r.shape} {r.dtype}" for r in self.levels)
        return f"Reference({self.axes!r}, [{shapes}], scale={self.scale})"


def _native(array: np.ndarray) -> np.ndarray:
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def _truth(image: Image, reference: Reference) -> list[np.ndarray]:
    """The reference levels in the image's dtypes (a lossless cast when the library widened them)."""
    if reference.exact_dtype:
        return reference.levels
    return [ref.astype(level.dtype) for ref, level in zip(reference.levels, image.levels)]


def _slices(box: Box) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in box)


def assert_same(actual: Any, expected: Any, what: str) -> None:
    """``actual`` is an ndarray with ``expected``'s shape, dtype and values."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray), f"{what}: got {type(actual).__name__}, not an ndarray"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, reference {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, reference {expected.dtype}"
    if not np.array_equal(actual, expected, equal_nan=actual.dtype.kind in "fc"):
        diff = np.argwhere(actual != expected)
        raise AssertionError(
            f"{what}: {len(diff)} of {actual.size} values differ from the reference, first at {tuple(diff[0])}: "
            f"{actual[tuple(diff[0])]!r} != {expected[tuple(diff[0])]!r}"
        )


# -- boxes ------------------------------------------------------------------------------------
def _span(rng: random.Random, kind: str, n: int, c: int) -> tuple[int, int]:
    """One axis of a box of ``kind`` in [0, n) with chunk size ``c``."""
    c = max(1, min(c, n))
    if kind == "far":  # touches the far edge
        return n - rng.randint(1, min(n, c + c // 2)), n
    if kind == "near":  # starts at 0
        return 0, rng.randint(1, min(n, c + c // 2))
    if kind == "cross" and c < n:  # crosses a chunk edge
        edge = c * rng.randint(1, (n - 1) // c)
        return edge - rng.randint(1, min(c, edge)), min(n, edge + rng.randint(1, c))
    if kind == "point":
        i = rng.randrange(n)
        return i, i + 1
    size = rng.randint(1, min(n, c + c // 2))
    start = rng.randint(0, n - size)
    return start, start + size


def sample_boxes(shape: Sequence[int], chunks: Sequence[int], seed: int = 0, count: int = 6) -> list[Box]:
    """Boxes of a level worth checking: both corners, chunk-edge crossings, one element, whole axes
    and ``count`` random mixtures of those, sized about a chunk so reads stay cheap."""
    rng = random.Random(seed)
    shape, chunks = tuple(shape), tuple(chunks)
    kinds = ["far", "near", "cross", "point"]
    boxes = [tuple(_span(rng, kind, n, c) for n, c in zip(shape, chunks)) for kind in kinds]
    for axis in range(len(shape)):  # one axis whole, the others a chunk-crossing window
        boxes.append(
            tuple((0, n) if i == axis else _span(rng, "cross", n, c) for i, (n, c) in enumerate(zip(shape, chunks)))
        )
    for _ in range(count):
        boxes.append(tuple(_span(rng, rng.choice([*kinds, "random"]), n, c) for n, c in zip(shape, chunks)))
    return list(dict.fromkeys(boxes))


def image_reads(image: Image, seed: int = 0, count: int = 6) -> list[Read]:
    """:func:`sample_boxes` of every level of ``image``."""
    return [
        (i, box)
        for i, level in enumerate(image.levels)
        for box in sample_boxes(level.shape, level.chunks, seed + i, count)
    ]


# -- checks: reads and metadata ----------------------------------------------------------------
def check_metadata(image: Image, reference: Reference, backend: str | None, detected: str | None) -> None:
    """Axes, per-level shape/dtype/chunks, scale and units against the reference's layout."""
    axes = image.axes
    assert isinstance(axes, str) and axes, f"axes {axes!r} is not a non-empty string"
    assert len(set(axes)) == len(axes) and set(axes) <= set(AXIS_LETTERS), f"axes {axes!r}: one of t c z y x each"
    assert axes == reference.axes, f"axes {axes!r}, the reference's layout is {reference.axes!r}"
    assert image.metadata.axes == axes
    assert image.ndim == len(axes) == len(image.shape), f"{len(axes)} axes for shape {image.shape}"
    if backend is not None:
        assert image.backend == backend, f"opened by {image.backend!r}, expected {backend!r}"
    if detected is not None and image.path is not None:
        assert detect(image.path) == detected, f"detect() says {detect(image.path)!r}, expected {detected!r}"
    assert isinstance(image.format, str) and image.format, "format is empty"
    assert image.level_count == len(image.levels) == len(reference.levels), (
        f"{len(image.levels)} levels, the reference has {len(reference.levels)}"
    )
    assert image.shape == image.levels[0].shape and image.dtype == image.levels[0].dtype
    previous: tuple[int, ...] | None = None
    for i, (level, ref) in enumerate(zip(image.levels, reference.levels)):
        assert level.index == i and level.axes == axes, f"level {i}: index {level.index}, axes {level.axes!r}"
        assert level.shape == ref.shape, f"level {i}: shape {level.shape}, reference {ref.shape}"
        if reference.exact_dtype:
            assert level.dtype == ref.dtype, f"level {i}: dtype {level.dtype}, reference {ref.dtype}"
        else:
            assert np.array_equal(ref.astype(level.dtype), ref), f"level {i}: dtype {level.dtype} loses values"
        assert level.dtype.isnative, f"level {i}: dtype {level.dtype} is not in native byte order"
        assert len(level.chunks) == len(axes) and all(isinstance(c, int) and c >= 1 for c in level.chunks), (
            f"level {i}: chunks {level.chunks} for axes {axes!r}"
        )
        if previous is not None:
            assert all(a <= b for a, b in zip(level.shape, previous)), f"level {i} {level.shape} > {previous}"
        previous = level.shape
    scale, units = image.scale, image.units
    if scale is not None:
        assert len(scale) == len(axes), f"scale {scale} for axes {axes!r}"
        assert all(math.isfinite(s) and s > 0 for s in scale), f"scale {scale}"
    if units:
        assert len(units) == len(axes), f"units {units} for axes {axes!r}"
    if reference.scale is not None:
        assert scale is not None, f"no scale; the reference says {reference.scale}"
        for a, got, want in zip(axes, scale, reference.scale):
            if want is not None:
                assert got == pytest.approx(want, rel=1e-6), f"scale along {a}: {got}, reference {want}"
    repr(image)
    assert isinstance(image.identity, str)


def check_full_levels(image: Image, reference: Reference) -> None:
    """Every level read whole equals the reference (``read`` of the full box; ``np.asarray`` of the
    image and of its coarsest level)."""
    truth = _truth(image, reference)
    assert_same(np.asarray(image), truth[0], "np.asarray(image)")
    for i, (level, ref) in enumerate(zip(image.levels[1:], truth[1:]), 1):
        assert_same(level.read(tuple((0, n) for n in level.shape)), ref, f"level {i} read whole")
    assert_same(np.asarray(image.levels[-1]), truth[-1], f"np.asarray(level {len(truth) - 1})")


def check_boxes(image: Image, reference: Reference, reads: Sequence[Read]) -> None:
    """Each box read equals the reference's box, as a C-contiguous array."""
    truth = _truth(image, reference)
    for i, box in reads:
        out = image.levels[i].read(box)
        assert_same(out, truth[i][_slices(box)], f"level {i} box {box}")
        assert out.flags.c_contiguous, f"level {i} box {box}: not C-contiguous"


def check_new_arrays(image: Image, reference: Reference, reads: Sequence[Read]) -> None:
    """A read returns a new writable array: writing into it changes nothing the next read returns."""
    truth = _truth(image, reference)
    whole_rows = [(i, tuple((0, n) if a > 0 else (0, min(n, 3)) for a, n in enumerate(lvl.shape)))
                  for i, lvl in enumerate(image.levels)]  # fmt: skip
    for i, box in [*whole_rows, *reads[:4]]:
        out = image.levels[i].read(box)
        assert out.flags.writeable, f"level {i} box {box}: the array read is read-only (a view of the source?)"
        out[...] = out.dtype.type(1) if out.dtype.kind != "b" else True
        assert_same(image.levels[i].read(box), truth[i][_slices(box)], f"level {i} box {box} read again")


def check_empty_boxes(image: Image, reference: Reference) -> None:
    """A box with no extent along some axis reads as an empty array of that shape and dtype, and so
    does an empty slice (``level[5:2]``)."""
    truth = _truth(image, reference)
    for i, level in enumerate(image.levels):
        for axis, n in enumerate(level.shape):
            box = tuple((n // 2, n // 2) if a == axis else (0, min(m, 2)) for a, m in enumerate(level.shape))
            assert_same(level.read(box), truth[i][_slices(box)], f"level {i} empty box {box}")
            key = (*(slice(0, 2),) * axis, slice(n - 1, 1))
            assert_same(level[key], truth[i][key], f"level {i}[{key!r}]")


def check_out_of_range(image: Image) -> None:
    """Boxes past an edge, negative, reversed or of the wrong length, and indices past an edge, raise
    OutOfRangeError; so do bad levels and sizes of ``read_region`` on slides."""
    for i in sorted({0, len(image.levels) - 1}):
        level = image.levels[i]
        inside = tuple((0, min(n, 2)) for n in level.shape)
        bad: list[Box] = [inside[:-1], (*inside, (0, 1))]
        for axis, n in enumerate(level.shape):
            for span in ((n - 1, n + 1), (n, n + 3), (-1, 1), (-3, -1), (2, 1)):
                bad.append(tuple(span if a == axis else s for a, s in enumerate(inside)))
        for box in bad:
            with pytest.raises(OutOfRangeError):
                level.read(box)
        for axis, n in enumerate(level.shape):
            pre = (slice(0, 1),) * axis
            for index in (n, -n - 1):
                with pytest.raises(OutOfRangeError):
                    level[(*pre, index)]
        with pytest.raises(OutOfRangeError):
            level[(0,) * (level.ndim + 1)]
    if image.axes == SLIDE_AXES:
        for bad_level in (-1, len(image.levels), 0.5, "0", None):
            with pytest.raises(OutOfRangeError):
                image.read_region((0, 0), bad_level, (1, 1))  # type: ignore[arg-type]
        with pytest.raises(OutOfRangeError):
            image.read_region((0, 0), 0, (-1, 2))


def slicing_keys(shape: Sequence[int], full: bool = True) -> list[Any]:
    """NumPy basic-indexing keys for an array of ``shape``: ints (negative too), slices with steps
    and negative or past-the-end bounds, ``...``, partial keys. ``full=False`` keeps the keys that
    read a small part."""
    keys: list[Any] = [0, -1, (0, ..., -1), (-1, ...), np.int64(0), tuple(n // 2 for n in shape),
                       tuple(-1 for _ in shape), tuple(slice(n // 3, n // 3 + 5, 2) for n in shape)]  # fmt: skip
    if not full:
        return keys
    keys += [..., (), (Ellipsis,), (..., -1), slice(None, None, 2), tuple(slice(n // 4, None, 3) for n in shape)]
    for axis, n in enumerate(shape):
        pre = (slice(None),) * axis
        keys += [(*pre, n // 2), (*pre, -n), (*pre, slice(min(1, n - 1), None, 3)), (*pre, slice(-3, None)),
                 (*pre, slice(n // 3, n, 2)), (*pre, slice(0, n + 10)),
                 (..., *([np.int32(-1)] if axis == len(shape) - 1 else []))]  # fmt: skip
    return keys


def check_slicing(image: Image, reference: Reference) -> None:
    """``level[key]`` and ``image[key]`` equal the same NumPy indexing of the reference array: every
    key of :func:`slicing_keys` on the coarsest level (when small), the cheap ones on level 0."""
    truth = _truth(image, reference)
    last = len(image.levels) - 1
    small = math.prod(image.levels[last].shape) <= FULL_SLICING_ELEMENTS
    for key in slicing_keys(image.levels[last].shape, full=small):
        assert_same(image.levels[last][key], truth[last][key], f"level {last}[{key!r}]")
    for key in [..., *slicing_keys(image.shape, full=False)]:
        assert_same(image.levels[0][key], truth[0][key], f"level 0[{key!r}]")
        assert_same(image[key], truth[0][key], f"image[{key!r}]")


def unsupported_keys(shape: Sequence[int]) -> list[Any]:
    """Keys lazy levels refuse: negative steps, integer and boolean arrays, lists, None, floats."""
    return [slice(None, None, -1), (..., slice(None, None, -2)), [0, 1], np.array([0, 1]),
            np.zeros(shape[0], dtype=bool), (slice(None), [0]), None, (0, None), 1.5, "0"]  # fmt: skip


def check_unsupported_indexing(image: Image) -> None:
    """Unsupported keys raise a ZigguratError (never a silent wrong answer)."""
    for key in unsupported_keys(image.shape):
        for target in (image.levels[-1], image):
            with pytest.raises(ZigguratError):
                target[key]


def check_bool_index(image: Image) -> None:
    """A Python bool is not an integer index (NumPy reads ``a[True]`` as a mask): it is refused."""
    for key in (True, False, (slice(None), True)):
        with pytest.raises(ZigguratError):
            image.levels[-1][key]


# -- checks: processes and threads -------------------------------------------------------------
def check_pickle(image: Image, reference: Reference, reads: Sequence[Read], limit: int = 4096) -> None:
    """``pickle.loads(pickle.dumps(image))`` is the same image; a file-backed one pickles its path."""
    data = pickle.dumps(image)
    if image.path is not None:
        assert len(data) <= limit, f"a file-backed image pickles to {len(data)} bytes (> {limit}): pixels or handles?"
    clone = pickle.loads(data)
    assert isinstance(clone, Image)
    assert (clone.axes, clone.shape, clone.dtype, clone.level_count, clone.format, clone.backend) == (
        image.axes, image.shape, image.dtype, image.level_count, image.format, image.backend
    )  # fmt: skip
    assert [lvl.shape for lvl in clone.levels] == [lvl.shape for lvl in image.levels]
    truth = _truth(image, reference)
    last = len(image.levels) - 1
    assert_same(np.asarray(clone.levels[last]), truth[last], f"unpickled level {last}")
    for i, box in reads:
        assert_same(clone.levels[i].read(box), truth[i][_slices(box)], f"unpickled level {i} box {box}")
    i, box = reads[0]
    assert_same(image.levels[i].read(box), truth[i][_slices(box)], "the original after pickling")


_INHERITED: dict[int, Image] = {}
_SPAWN: dict[str, ProcessPoolExecutor] = {}


def _read_in_worker(image: Image | int, reads: Sequence[Read]) -> tuple[int, list[np.ndarray]]:
    """Pool task: read ``reads`` from an unpickled image, or from one inherited over fork (a token)."""
    target = _INHERITED[image] if isinstance(image, int) else image
    return os.getpid(), [target.levels[i].read(box) for i, box in reads]


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop a pool whose workers may hang: cancel what is queued, kill the processes."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
        process.join(5)


def _pool(method: str) -> ProcessPoolExecutor:
    """A fresh fork pool (it must inherit the current state), or the session's spawn pool (a spawn
    worker takes 1-3 s to start, so one pair of them serves every test)."""
    if method == "fork":
        return ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
    if "pool" not in _SPAWN:
        _SPAWN["pool"] = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    return _SPAWN["pool"]


def check_workers(image: Image, reference: Reference, reads: Sequence[Read], method: str, timeout: float = 60) -> None:
    """Pool workers (``fork`` or ``spawn``, 2 of them) given the image read what the parent reads; after
    a fork, workers also read an image they inherited, and the parent's open handles keep working.
    A worker that dies fails the check at once (BrokenProcessPool); one that hangs, after ``timeout``."""
    truth = _truth(image, reference)
    expected = [truth[i][_slices(box)] for i, box in reads]
    for (i, box), want in zip(reads, expected):  # the parent reads first: handles open, caches warm
        assert_same(image.levels[i].read(box), want, f"parent level {i} box {box}")
    token = id(image)
    tasks: list[tuple[Image | int, Sequence[Read]]] = [(image, reads), (image, reads[::-1])]
    if method == "fork":
        _INHERITED[token] = image
        tasks += [(token, reads), (token, reads[::-1])]
    pool = _pool(method)
    ok = False
    try:
        futures = [pool.submit(_read_in_worker, *task) for task in tasks]
        results = [future.result(timeout) for future in futures]
        ok = True
    finally:
        _INHERITED.pop(token, None)
        if method == "fork":
            _kill(pool)
        elif not ok:  # a broken or hung spawn pool is replaced for the next test
            _kill(_SPAWN.pop("pool"))
    for (task_image, task_reads), (pid, arrays) in zip(tasks, results):
        how = "inherited" if isinstance(task_image, int) else "unpickled"
        assert pid != os.getpid(), "the task ran in the parent"
        for (i, box), got in zip(task_reads, arrays):
            assert_same(got, truth[i][_slices(box)], f"{method} worker ({how}) level {i} box {box}")
    for (i, box), want in zip(reads, expected):
        assert_same(image.levels[i].read(box), want, f"parent after the {method} pool, level {i} box {box}")


def check_threads(
    image: Image, reference: Reference, reads: Sequence[Read], threads: int = 8, timeout: float = 60
) -> None:
    """``threads`` threads reading the same boxes (each in its own order) from one Image get what one
    thread gets: first from a freshly unpickled copy (cold handles and caches), then from ``image``."""
    truth = _truth(image, reference)
    sequential = [image.levels[i].read(box) for i, box in reads]
    for (i, box), one in zip(reads, sequential):
        assert_same(one, truth[i][_slices(box)], f"level {i} box {box}")
    for name, shared in (("a fresh copy", pickle.loads(pickle.dumps(image))), ("the image", image)):
        barrier = threading.Barrier(threads)

        def run(seed: int, shared: Image = shared, barrier: threading.Barrier = barrier) -> list[np.ndarray]:
            order = list(range(len(reads)))
            random.Random(seed).shuffle(order)
            out: list[np.ndarray] = [np.empty(0)] * len(reads)
            barrier.wait(timeout)
            for k in order:
                i, box = reads[k]
                out[k] = shared.levels[i].read(box)
            return out

        pool = ThreadPoolExecutor(threads)
        try:
            futures = [pool.submit(run, seed) for seed in range(threads)]
            results = [f.result(timeout) for f in futures]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        for t, arrays in enumerate(results):
            for (i, box), got, one in zip(reads, arrays, sequential):
                assert_same(got, one, f"{name}: thread {t} of {threads}, level {i} box {box}, vs one thread")


# -- checks: views ------------------------------------------------------------------------------
def _padded(ref: np.ndarray, y: int, x: int, h: int, w: int, rgba: bool) -> np.ndarray:
    """A (h, w) window of a ``yxc`` array at (y, x), zero past the edges, alpha appended with ``rgba``."""
    channels = ref.shape[2]
    out = np.zeros((h, w, channels + rgba), ref.dtype)
    y0, y1, x0, x1 = max(y, 0), min(y + h, ref.shape[0]), max(x, 0), min(x + w, ref.shape[1])
    if y1 > y0 and x1 > x0:
        out[y0 - y : y1 - y, x0 - x : x1 - x, :channels] = ref[y0:y1, x0:x1]
        if rgba:
            opaque = np.iinfo(ref.dtype).max if ref.dtype.kind in "ui" else 1
            out[y0 - y : y1 - y, x0 - x : x1 - x, channels] = opaque
    return out


def check_slide_view(image: Image, reference: Reference) -> None:
    """openslide's API on a ``yxc`` image: dimensions, downsamples (openslide's rule), and
    ``read_region`` inside, straddling both corners and wholly outside, padded like openslide."""
    truth = _truth(image, reference)
    h0, w0 = truth[0].shape[:2]
    assert image.dimensions == (w0, h0)
    assert image.level_dimensions == tuple((r.shape[1], r.shape[0]) for r in truth)
    for i, (level, ref) in enumerate(zip(image.levels, truth)):
        h, w = ref.shape[:2]
        ds = image.level_downsamples[i]
        assert ds == pytest.approx((w0 / w + h0 / h) / 2), f"level {i} downsample {ds} is not openslide's"
        assert level.size == (w, h) and level.tile_shape == level.chunks[:2]
        ww, hh = min(w, 37), min(h, 29)
        windows = [
            (x0, y0, ww, hh)
            for x0, y0 in ((w // 3, h // 3), (w - ww // 2, h - hh // 2), (-(ww // 2), -(hh // 2)), (w + 3, -hh - 3))
        ]
        windows.append((w - 1, 0, 1, h))  # one whole column at the right edge
        for lx, ly, sw, sh in windows:
            location = (math.floor(lx * ds), math.floor(ly * ds))
            x, y = math.floor(location[0] / ds), math.floor(location[1] / ds)
            for rgba in (False, True):
                got = image.read_region(location, i, (sw, sh), rgba=rgba)
                assert_same(got, _padded(ref, y, x, sh, sw, rgba), f"read_region({location}, {i}, {(sw, sh)}, {rgba=})")
    assert image.get_best_level_for_downsample(1.0) == 0
    assert image.get_best_level_for_downsample(1e9) == len(image.levels) - 1


def plane_reference(ref: np.ndarray, axes: str, fixed: Mapping[str, int], rows: str, cols: str) -> np.ndarray:
    """The ``yxc`` plane of ``ref`` with ``fixed`` axes held (NumPy only: the spec of ``ziggurat.plane``)."""
    block = ref[tuple(fixed[a] if a in fixed else slice(None) for a in axes)]
    kept = [a for a in axes if a not in fixed]
    order = [kept.index(rows), kept.index(cols), *([kept.index("c")] if "c" in kept else [])]
    block = block.transpose(order)
    return np.ascontiguousarray(block if "c" in kept else block[..., None])


PLANES = {"z": ("axial", "y", "x"), "y": ("coronal", "z", "x"), "x": ("sagittal", "z", "y")}


def check_volume_view(image: Image, reference: Reference) -> None:
    """``axial``/``coronal``/``sagittal`` of every level equal the reference's planes; ``spacing``,
    ``affine`` and ``to_numpy`` are consistent; a plane index past the edge raises OutOfRangeError."""
    truth = _truth(image, reference)
    axes = image.axes
    lead = (slice(None),) * (len(axes) - 3)
    for i, ref in enumerate(truth):
        assert_same(image.to_numpy(i), ref, f"to_numpy({i})")
        for k, (axis, (name, _, _)) in enumerate(PLANES.items()):
            n = ref.shape[len(axes) - 3 + k]
            view = getattr(image, name)
            for index in sorted({0, n // 2, n - 1, -1}):
                key = (*lead, *(index if a == axis else slice(None) for a in "zyx"))
                assert_same(view(index, level=i), ref[key], f"{name}({index}, level={i})")
            with pytest.raises(OutOfRangeError):
                view(n, level=i)
    spacing = image.spacing
    assert len(spacing) == 3 and all(s > 0 for s in spacing), f"spacing {spacing}"
    if image.scale is not None:
        assert spacing == tuple(image.scale[-3:])
    affine = image.affine
    assert affine.shape == (4, 4) and np.all(np.isfinite(affine)) and np.array_equal(affine[3], [0, 0, 0, 1])


def check_planes(image: Image, reference: Reference) -> None:
    """:func:`ziggurat.plane` of a volume (every axis, every level) or of a 2-D image is a ``yxc``
    Image whose ``read_region`` equals the reference's plane, and which passes the slide checks."""
    truth = _truth(image, reference)
    axes = image.axes
    held = {"t": 0} if "t" in axes else {}
    if "z" in axes:
        cases: list[tuple[str | None, int, str, str]] = [
            (axis, image.shape[axes.index(axis)] // 2, rows, cols) for axis, (_, rows, cols) in PLANES.items()
        ]
    else:
        cases = [(None, 0, "y", "x")]
    for axis, index, rows, cols in cases:
        view = plane(image, axis, index)
        assert view.axes == SLIDE_AXES and view.level_count == image.level_count
        expected = []
        for i, ref in enumerate(truth):
            fixed = dict(held)
            if axis is not None:
                n, n0 = ref.shape[axes.index(axis)], truth[0].shape[axes.index(axis)]
                fixed[axis] = min(index * n // n0, n - 1)
            want = plane_reference(ref, axes, fixed, rows, cols)
            got = view.read_region((0, 0), i, (want.shape[1], want.shape[0]))
            assert_same(got, want, f"plane({axis}, {index}) level {i}")
            expected.append(want)
        check_slide_view(view, Reference(expected, SLIDE_AXES))
        assert_same(pickle.loads(pickle.dumps(view)).levels[-1].read(((0, 1), (0, 1), (0, 1))),
                    expected[-1][:1, :1, :1], f"unpickled plane({axis}, {index})")  # fmt: skip
    if "z" in axes:
        with pytest.raises(OutOfRangeError):
            plane(image, "z", image.shape[axes.index("z")])
        with pytest.raises(AxesError):
            plane(image, "q", 0)


def check_axes_errors(image: Image) -> None:
    """The slide calls raise AxesError on an image that is not ``yxc``; the volume calls on one
    whose axes do not end in ``zyx``."""
    calls: list[tuple[str, Callable[[], Any]]] = []
    if image.axes != SLIDE_AXES:
        calls += [
            ("read_region", lambda: image.read_region((0, 0), 0, (1, 1))),
            ("level_dimensions", lambda: image.level_dimensions),
            ("dimensions", lambda: image.dimensions),
            ("get_thumbnail", lambda: image.get_thumbnail((8, 8))),
            ("Level.tile_shape", lambda: image.levels[0].tile_shape),
            ("Level.size", lambda: image.levels[0].size),
        ]
    if not image.axes.endswith("zyx"):
        calls += [
            ("axial", lambda: image.axial(0)),
            ("coronal", lambda: image.coronal(0)),
            ("sagittal", lambda: image.sagittal(0)),
            ("spacing", lambda: image.spacing),
            ("affine", lambda: image.affine),
        ]
    for name, call in calls:
        with pytest.raises(AxesError):
            call()
            pytest.fail(f"{name} on axes {image.axes!r} did not raise AxesError")


# -- the suite -----------------------------------------------------------------------------------
class SourceTests:
    """Subclass per backend (and per file) as ``TestSomething(SourceTests)``, giving either

    - a ``path`` fixture (``@pytest.fixture(scope="class")`` over ``@classmethod``) plus
      ``read_reference(path) -> Reference`` and, if needed, ``open_options`` for ``ziggurat.open``; or
    - ``image`` and ``reference`` fixtures (class-scoped classmethods) directly;

    and ``backend`` (the registry name expected to open it; ``detected``: what ``ziggurat.detect``
    should answer when that differs, None to skip). ``xfail`` maps test names (``test_workers`` or
    ``test_workers[fork]``) to the reason a known bug makes them fail (strict: a fix must remove it).
    """

    backend: ClassVar[str | None] = None
    detected: ClassVar[str | None] = ""  # "": the same as backend
    open_options: ClassVar[Mapping[str, Any]] = {}
    seed: ClassVar[int] = 0
    boxes_per_level: ClassVar[int] = 6
    pickle_limit: ClassVar[int] = 4096
    timeout: ClassVar[float] = 60.0
    xfail: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def read_reference(cls, path: Path) -> Reference:
        raise NotImplementedError(f"{cls.__name__}: give read_reference or a reference fixture")

    @pytest.fixture(scope="class")
    @classmethod
    def path(cls) -> Path:
        raise NotImplementedError(f"{cls.__name__}: give a path fixture or an image fixture")

    @pytest.fixture(scope="class")
    @classmethod
    def image(cls, path: Path) -> Iterator[Image]:
        from ..model.image import open_image

        with open_image(path, **cls.open_options) as image:
            yield image

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls, path: Path) -> Reference:
        return cls.read_reference(path)

    @pytest.fixture(scope="class")
    @classmethod
    def reads(cls, image: Image) -> list[Read]:
        return image_reads(image, cls.seed, cls.boxes_per_level)

    @pytest.fixture(autouse=True)
    def _known_bugs(self, request: pytest.FixtureRequest) -> None:
        node = request.node
        reason = self.xfail.get(node.name) or self.xfail.get(getattr(node, "originalname", node.name))
        if reason:
            node.add_marker(pytest.mark.xfail(strict=True, reason=reason))

    @property
    def _detected(self) -> str | None:
        return self.backend if self.detected == "" else self.detected

    # reads and metadata
    def test_metadata(self, image: Image, reference: Reference) -> None:
        check_metadata(image, reference, self.backend, self._detected)

    def test_full_levels(self, image: Image, reference: Reference) -> None:
        check_full_levels(image, reference)

    def test_boxes(self, image: Image, reference: Reference, reads: list[Read]) -> None:
        check_boxes(image, reference, reads)

    def test_reads_are_new_arrays(self, image: Image, reference: Reference, reads: list[Read]) -> None:
        check_new_arrays(image, reference, reads)

    def test_empty_boxes(self, image: Image, reference: Reference) -> None:
        check_empty_boxes(image, reference)

    def test_out_of_range(self, image: Image) -> None:
        check_out_of_range(image)

    # indexing
    def test_slicing(self, image: Image, reference: Reference) -> None:
        check_slicing(image, reference)

    def test_unsupported_indexing(self, image: Image) -> None:
        check_unsupported_indexing(image)

    def test_bool_index(self, image: Image) -> None:
        check_bool_index(image)

    # processes and threads
    def test_pickle(self, image: Image, reference: Reference, reads: list[Read]) -> None:
        check_pickle(image, reference, reads, self.pickle_limit)

    @pytest.mark.parametrize("method", ["fork", "spawn"])
    def test_workers(self, image: Image, reference: Reference, reads: list[Read], method: str) -> None:
        check_workers(image, reference, reads[:: max(1, len(reads) // 8)], method, self.timeout)

    def test_threads(self, image: Image, reference: Reference, reads: list[Read]) -> None:
        check_threads(image, reference, reads, 8, self.timeout)

    # views
    def test_slide_view(self, image: Image, reference: Reference) -> None:
        if image.axes != SLIDE_AXES:
            pytest.skip(f"axes {image.axes!r}: not a slide")
        check_slide_view(image, reference)

    def test_volume_view(self, image: Image, reference: Reference) -> None:
        if not image.axes.endswith("zyx"):
            pytest.skip(f"axes {image.axes!r}: not a volume")
        check_volume_view(image, reference)

    def test_planes(self, image: Image, reference: Reference) -> None:
        if image.axes == SLIDE_AXES:
            pytest.skip("a slide is its own plane")
        check_planes(image, reference)

    def test_axes_errors(self, image: Image) -> None:
        check_axes_errors(image)


# -- reference readers (each imports its library only when called) -------------------------------
def array_reference(levels: np.ndarray | Sequence[np.ndarray], axes: str, **facts: Any) -> Reference:
    """Arrays held in memory are their own reference (copied, so the image cannot alias them)."""
    arrays = [levels] if isinstance(levels, np.ndarray) else list(levels)
    return Reference([np.array(a, copy=True) for a in arrays], axes, **facts)


def _tiff_to_yxc(array: np.ndarray, axes: str) -> np.ndarray:
    """A tifffile array with ``axes`` (Y, X, S samples, C channel pages, others) as (Y, X, C): other
    leading axes at their first plane, as a slide of a multi-dimensional TIFF is read."""
    index = tuple(slice(None) if a in "YXSC" else 0 for a in axes)
    array, axes = array[index], "".join(a for a in axes if a in "YXSC")
    channel = "S" if "S" in axes else "C" if "C" in axes else None
    if channel is None:
        return array.transpose(axes.index("Y"), axes.index("X"))[..., None]
    if "S" in axes and "C" in axes:  # samples per pixel win; channel pages past the first are not read
        array, axes = array.take(0, axes.index("C")), axes.replace("C", "")
    return array.transpose(axes.index("Y"), axes.index("X"), axes.index(channel))


#: tifffile's axis letters as ours (Q and I: a shaped or generic page sequence, read as time)
TIFF_LETTERS = {"T": "t", "Q": "t", "I": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x"}


def tiff_stack_reference(path: str | os.PathLike[str]) -> Reference:
    """tifffile's levels of a first series with a time or z axis, transposed to ``tczyx`` order (the
    axes present), with the physical sizes tifffile reports (OME PhysicalSize* and TimeIncrement in
    their default units, ImageJ spacing/finterval/resolution in µm and seconds)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        stored = "".join(TIFF_LETTERS[a] for a in series.axes)
        axes = "".join(a for a in "tczyx" if a in stored)
        levels = [level.asarray().transpose([stored.index(a) for a in axes]) for level in series.levels]
        size: dict[str, float] = {}
        if tif.is_ome:
            pixels = tifffile.xml2dict(tif.ome_metadata or "<OME/>")["OME"]["Image"]
            pixels = (pixels[0] if isinstance(pixels, list) else pixels)["Pixels"]
            size = {a: float(pixels[k]) for a, k in (("x", "PhysicalSizeX"), ("y", "PhysicalSizeY"),
                    ("z", "PhysicalSizeZ"), ("t", "TimeIncrement")) if k in pixels}  # fmt: skip
        elif tif.is_imagej:
            ij = tif.imagej_metadata or {}
            (xn, xd), (yn, yd) = (
                series.keyframe.tags.valueof("XResolution"),
                series.keyframe.tags.valueof("YResolution"),
            )
            size = {"x": xd / xn, "y": yd / yn} if ij.get("unit") in ("um", "micron") else {}
            size |= {"z": float(ij["spacing"])} if "spacing" in ij and size else {}
            size |= {"t": float(ij["finterval"])} if "finterval" in ij else {}
    return Reference(levels, axes, tuple(size.get(a) for a in axes))


def tiff_reference(path: str | os.PathLike[str]) -> Reference:
    """tifffile's levels of the first series as ``yxc``, with the pixel size it reports (µm); a
    series with a time or z axis as :func:`tiff_stack_reference` reads it."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if {"t", "z"} & {TIFF_LETTERS.get(a) for a in series.axes} and set(series.axes) <= set(TIFF_LETTERS):
            return tiff_stack_reference(path)
        levels = [_tiff_to_yxc(level.asarray(), level.axes) for level in series.levels]
        page = series.keyframe
        mpp: tuple[float, float] | None = None
        if tif.is_svs:
            match = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", page.description)
            mpp = (float(match.group(1)),) * 2 if match else None
        elif tif.is_ome:
            pixels = tifffile.xml2dict(tif.ome_metadata or "<OME/>")["OME"]["Image"]
            pixels = (pixels[0] if isinstance(pixels, list) else pixels)["Pixels"]
            if pixels.get("PhysicalSizeX") and pixels.get("PhysicalSizeXUnit", "µm") in ("µm", "um"):
                mpp = (float(pixels["PhysicalSizeX"]), float(pixels["PhysicalSizeY"]))
        elif page.tags.valueof("ResolutionUnit") == 3 and page.tags.valueof("XResolution"):
            (xn, xd), (yn, yd) = page.tags.valueof("XResolution"), page.tags.valueof("YResolution")
            mpp = (1e4 * xd / xn, 1e4 * yd / yn) if xn and yn else None
    return Reference(levels, SLIDE_AXES, None if mpp is None else (mpp[1], mpp[0], None))


def openslide_reference(path: str | os.PathLike[str]) -> Reference:
    """openslide-python's every level read whole (RGBA; alpha dropped), and its mpp."""
    import openslide

    with openslide.OpenSlide(os.fspath(path)) as slide:
        levels = [
            np.asarray(slide.read_region((0, 0), i, size))[..., :3] for i, size in enumerate(slide.level_dimensions)
        ]
        mx, my = slide.properties.get("openslide.mpp-x"), slide.properties.get("openslide.mpp-y")
    return Reference(levels, SLIDE_AXES, (float(my), float(mx), None) if mx and my else None)


def pillow_reference(path: str | os.PathLike[str]) -> Reference:
    """Pillow's decoded picture as (H, W, C)."""
    from PIL import Image as PILImage

    with PILImage.open(path) as pic:
        array = np.asarray(pic)
    return Reference([array[..., None] if array.ndim == 2 else array], SLIDE_AXES)


def nifti_reference(path: str | os.PathLike[str]) -> Reference:
    """nibabel's scaled ``dataobj`` transposed — NIfTI (i, j, k[, t]) is the image's [t,] z, y, x —
    with the header's zooms reversed as the scale."""
    import nibabel

    nii: Any = nibabel.load(os.fspath(path))
    data = np.asarray(nii.dataobj)
    zooms = tuple(float(z) for z in nii.header.get_zooms()[: data.ndim])
    return Reference([data.T], "tzyx" if data.ndim == 4 else "zyx", tuple(reversed(zooms)))


def dicom_reference(path: str | os.PathLike[str]) -> Reference:
    """pydicom's pixels with the modality LUT applied, as a ``zyx`` volume sorted along the slice
    normal: a folder's slices (by ImagePositionPatient), or one file's frames (by their per-frame
    PlanePositionSequence when it has one); the in-plane scale is PixelSpacing."""
    import pydicom
    from pydicom.pixels.processing import apply_modality_lut

    def first(item: Any, name: str) -> Any:
        return item[name][0] if item is not None and name in item else None

    root = Path(path)
    files = sorted(f for f in root.iterdir() if f.suffix.lower() == ".dcm") if root.is_dir() else [root]
    datasets = [pydicom.dcmread(f) for f in files]
    ds = datasets[0]
    shared = first(ds, "SharedFunctionalGroupsSequence")
    measures = first(shared, "PixelMeasuresSequence")
    row, col = (float(v) for v in (measures or ds).PixelSpacing)
    orientation = first(shared, "PlaneOrientationSequence") or ds
    iop = np.array(orientation.ImageOrientationPatient if "ImageOrientationPatient" in orientation else
                   (1, 0, 0, 0, 1, 0), dtype=float)  # fmt: skip
    normal = np.cross(iop[:3], iop[3:])
    if len(datasets) > 1:
        datasets.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, dtype=float), normal)))
        volume = np.stack([apply_modality_lut(d.pixel_array, d) for d in datasets])
    else:
        volume = apply_modality_lut(ds.pixel_array, ds)
        if volume.ndim == 2:
            volume = volume[None]
        frames = [first(item, "PlanePositionSequence") for item in ds.get("PerFrameFunctionalGroupsSequence", [])]
        if len(frames) == len(volume) > 1 and all(frames):
            where = [float(np.dot(np.array(f.ImagePositionPatient, dtype=float), normal)) for f in frames]
            volume = volume[np.argsort(where, kind="stable")]
    return Reference([volume], "zyx", (None, row, col), exact_dtype=False)


def zarr_reference(path: str | os.PathLike[str], axes: str) -> Reference:
    """zarr-python's whole array (a bare Zarr v2 or v3 array)."""
    import zarr

    return Reference([np.asarray(zarr.open_array(os.fspath(path), mode="r")[...])], axes)


def omezarr_reference(path: str | os.PathLike[str]) -> Reference:
    """zarr-python's arrays of the first OME-NGFF multiscale (0.4 or 0.5), finest first, with its
    axes and the first dataset's scale."""
    import zarr

    group = zarr.open_group(os.fspath(path), mode="r")
    attrs: dict[str, Any] = dict(group.attrs)
    multiscale = attrs.get("ome", attrs)["multiscales"][0]
    axes = "".join(a["name"] if isinstance(a, dict) else a for a in multiscale["axes"])
    datasets = multiscale["datasets"]
    levels = [np.asarray(zarr.open_array(Path(path) / d["path"], mode="r")[...]) for d in datasets]
    scale = next(t["scale"] for t in datasets[0]["coordinateTransformations"] if t["type"] == "scale")
    return Reference(levels, axes, tuple(float(s) for s in scale))


def n5_reference(path: str | os.PathLike[str], axes: str) -> Reference:
    """tensorstore's whole N5 dataset."""
    import tensorstore

    spec = {"driver": "n5", "kvstore": {"driver": "file", "path": os.fspath(path)}}
    store = tensorstore.open(spec, read=True).result()
    return Reference([np.asarray(store.read().result())], axes)


def tiffstack_reference(path: str | os.PathLike[str]) -> Reference:
    """Slices stacked along z: a folder's files sorted by name (TIFF by tifffile, others by Pillow),
    or a multi-page TIFF's pages (tifffile)."""
    import tifffile
    from PIL import Image as PILImage

    def read(file: Path) -> np.ndarray:
        if file.suffix.lower() in (".tif", ".tiff"):
            return np.asarray(tifffile.imread(file))
        with PILImage.open(file) as pic:
            return np.asarray(pic)

    root = Path(path)
    if root.is_dir():
        names = sorted(f for f in root.iterdir() if f.is_file() and not f.name.startswith("."))
        return Reference([np.stack([read(f) for f in names])], "zyx")
    with tifffile.TiffFile(root) as tif:
        return Reference([np.stack([page.asarray() for page in tif.pages])], "zyx")
