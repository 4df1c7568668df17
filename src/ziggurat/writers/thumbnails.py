"""CT-stack thumbnails (the CTHarvester workflow): 8-bit half-resolution slices and a 3-D pyramid of them.

Level 1 holds one image per slice (or, with ``pair_average``, per pair of slices) at half the
resolution: each pixel is the mean of its 2x2 (or 2x2x2) source pixels, windowed to 8 bits by
``round(clip((mean - lo) / (hi - lo), 0, 1) * 255)``. The sums are the shared 2x reduce's
(:func:`ziggurat.kernels.sum2_bands`, band by band so each band is windowed while in cache); for
8/16-bit input the window is one table lookup on the integer sum (the table folds mean, window
and rounding into one step). Each further level averages 2x2x2 voxels of the level before
(:func:`ziggurat.kernels.reduce2`). An odd last slice, row or column is averaged with itself.

Slices come from the registry's TIFF-stack source (read with ``pread`` when a file stores them
uncompressed and contiguous; PNG/JPEG by imagecodecs), read on a thread pool that runs ahead
of the writer, so reads, arithmetic and encoding overlap on every core. Every output file is
written atomically and a rerun skips the files that exist; ``settings.json`` records window and
layout so a rerun with other settings is refused rather than mixed in.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import tifffile

from ..errors import CorruptImageError, ImageNotFoundError, UnsupportedFormatError
from ..io.atomic import OutputExistsError, atomic_path, output_lock
from ..io.locations import is_url, parse
from ..io.remote import store_for
from ..io.upload import staged, upload_tree
from ..kernels import reduce2, sum2_bands
from ..kernels.reduce import wide_type
from ..model.image import open_image
from ..sources.base import SupportsPlanes
from ..sources.tiffstack import SLICE_ERRORS, SLICE_SUFFIXES, TIFF_SUFFIXES

WINDOW_SAMPLES = 16  # "auto" window: min and max over this many evenly spaced slices
TOP_SIZE = 256  # by default, add levels until the largest side is at most this


@dataclass(frozen=True)
class Settings:
    """What the outputs depend on (kept in OUT/settings.json)."""

    window: tuple[float, float]
    pair_average: bool
    format: str
    levels: int
    slices: int
    shape: tuple[int, int]


def open_stack(stack_dir: str | os.PathLike[str]) -> tuple[int, Callable[[int], np.ndarray]]:
    """(slice count, ``plane(z)``) of a folder of slices, through the registry's TIFF-stack source;
    planes come whole, read with ``pread`` where uncompressed. A URL prefix: see :func:`remote_stack`."""
    if is_url(stack_dir):
        return remote_stack(os.fspath(stack_dir))
    if not Path(stack_dir).is_dir():
        raise ImageNotFoundError(f"{stack_dir}: no such folder")
    level = open_image(stack_dir, backend="tiffstack").levels[0]
    reader = level.reader
    plane: Callable[[int], np.ndarray] = reader.plane if isinstance(reader, SupportsPlanes) else level.__getitem__
    return level.shape[0], plane


def remote_stack(url: str) -> tuple[int, Callable[[int], np.ndarray]]:
    """(slice count, ``plane(z)``) of the slice objects directly under an ``s3://`` or ``http(s)://``
    prefix, sorted by name (one listing; each plane is one GET, run ahead by the writer's pool)."""
    root = parse(url)
    prefix = root.key.strip("/") + "/" if root.key.strip("/") else ""
    store = store_for(root)
    keys = sorted(key for key, _ in store.walk(prefix) if "/" not in key[len(prefix) :]
                  and not key[len(prefix) :].startswith(".") and key.lower().endswith(SLICE_SUFFIXES))  # fmt: skip
    if not keys:
        raise ImageNotFoundError(f"{url}: no slices (TIFF, PNG, JPEG) under this prefix")
    shape: list[tuple[int, ...]] = []

    def plane(z: int) -> np.ndarray:
        name = store.url(keys[z])
        data = store.get(keys[z])
        try:
            image = np.asarray(tifffile.imread(io.BytesIO(data)) if name.lower().endswith(TIFF_SUFFIXES)
                               else imagecodecs.imread(data))  # fmt: skip
        except SLICE_ERRORS as exc:
            raise CorruptImageError(f"{name}: unreadable slice: {exc}") from exc
        if image.ndim != 2 or image.dtype.kind not in "uif" or image.shape != (shape or [image.shape])[0]:
            raise UnsupportedFormatError(f"{name}: slices must be 2-D grey images of one size, got {image.shape}")
        shape[:] = shape or [image.shape]
        return image

    return len(keys), plane


def auto_window(count: int, plane: Callable[[int], np.ndarray]) -> tuple[float, float]:
    """(min, max) over up to WINDOW_SAMPLES evenly spaced slices."""
    picks = sorted({int(i) for i in np.linspace(0, count - 1, min(count, WINDOW_SAMPLES)).round()})
    lo = min(float(plane(i).min()) for i in picks)
    hi = max(float(plane(i).max()) for i in picks)
    return lo, hi


class Windower:
    """Sum of n samples -> 8-bit windowed mean: a lookup table for 8/16-bit input, arithmetic otherwise."""

    def __init__(self, dtype: np.dtype, n: int, window: tuple[float, float]) -> None:
        self.n, (self.lo, self.hi) = n, window
        self.lut: np.ndarray | None = None
        self.offset = 0  # table index = sum + offset (signed input: the smallest sum is n * min)
        if dtype.kind in "ui" and dtype.itemsize <= 2:
            info = np.iinfo(dtype)
            self.offset = -n * int(info.min)
            self.lut = self.apply(np.arange(n * int(info.min), n * int(info.max) + 1, dtype=np.float64))
            self.sum_type = wide_type(dtype, n)
        else:
            self.sum_type = np.dtype(np.float64)

    def apply(self, sums: np.ndarray) -> np.ndarray:
        scale = 255.0 / max(self.hi - self.lo, 1e-12)
        values = np.clip((sums / self.n - self.lo) * scale, 0, 255)
        return np.floor(values + 0.5).astype(np.uint8)

    def __call__(self, sums: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if self.lut is None:
            values = self.apply(sums)
            if out is None:
                return values
            out[...] = values
            return out
        if self.offset:
            return np.take(self.lut, sums + self.offset, out=out)
        lut = self.lut[: 1 << 16] if sums.dtype.itemsize <= 2 else self.lut  # a 64 kB table stays in L2
        return np.take(lut, sums, out=out)

    def half(self, planes: Sequence[np.ndarray]) -> np.ndarray:
        """The windowed 8-bit 2x2(x2) means of one or two planes (the shared kernel's sums, band by band)."""
        h, w = planes[0].shape
        image = np.empty(((h + 1) // 2, (w + 1) // 2), np.uint8)
        for y, sums in sum2_bands(planes, self.sum_type):
            self(sums, out=image[y : y + sums.shape[0]])
        return image


def png_gray8(image: np.ndarray) -> bytes:
    """A grey 8-bit PNG, deflated by libdeflate at level 1 without row filters.

    3.5x faster than libpng at its fastest level here, and smaller (measured on 1400 x 1400 CT
    thumbnails: 19 ms and 650 kB vs 67 ms and 746 kB).
    """
    height, width = image.shape
    raw = bytearray(height * (width + 1))  # each row starts with filter type 0
    np.frombuffer(raw, np.uint8).reshape(height, width + 1)[:, 1:] = image
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunks = [(b"IHDR", header), (b"IDAT", imagecodecs.deflate_encode(raw, level=1)), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)) for kind, data in chunks
    )


class _Outputs:
    """File names, existence, atomic writes and reads of the thumbnails."""

    def __init__(self, out: Path, fmt: str) -> None:
        if fmt not in ("png", "tif"):
            raise UnsupportedFormatError(f"unknown thumbnail format {fmt!r}; use png or tif")
        self.out, self.fmt = out, fmt

    def path(self, level: int, index: int) -> Path:
        return self.out / str(level) / f"{index:06d}.{self.fmt}"

    def exists(self, level: int, index: int) -> bool:
        return self.path(level, index).is_file()

    def write(self, level: int, index: int, image: np.ndarray) -> None:
        path = self.path(level, index)
        data = png_gray8(image) if self.fmt == "png" else None
        with atomic_path(path, lock=False) as tmp:  # under the run's lock of the folder
            if data is not None:
                Path(tmp).write_bytes(data)
            else:
                tifffile.imwrite(tmp, image, photometric="minisblack")

    def read(self, level: int, index: int) -> np.ndarray:
        path = self.path(level, index)
        image: np.ndarray = tifffile.imread(path) if self.fmt == "tif" else imagecodecs.png_decode(path.read_bytes())
        return image


def level_counts(n: int, shape: tuple[int, int], levels: int | None, pair: bool) -> list[int]:
    """Images per level (level 1 first): halve the count each level; ``levels=None`` until TOP_SIZE."""
    counts = [(n + 1) // 2 if pair else n]
    size = max((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    while (len(counts) < levels) if levels else (size > TOP_SIZE and counts[-1] > 1):
        counts.append((counts[-1] + 1) // 2)
        size = (size + 1) // 2
    return counts


def build_thumbnails(
    stack_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    pair_average: bool = False,
    window: str | tuple[float, float] = "auto",
    format: str = "png",  # the CLI's name
    levels: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write the thumbnail levels of a slice folder into ``out/1``, ``out/2``, ...; returns a summary.

    Existing outputs are kept (a rerun resumes); ``progress(done, total)`` counts source slices.
    ``stack_dir`` may be a URL prefix of slices; an ``s3://`` ``out`` is built on local disk, then
    uploaded (replacing an old one) with ``settings.json`` last.
    """
    with staged(out, "thumbnails") as (local, remote):
        summary = _build(stack_dir, local, pair_average, window, format, levels, workers, progress)
        if remote is not None:
            upload_tree(local, remote, last="settings.json")
    return summary


def _build(stack_dir: str | os.PathLike[str], out: Path, pair_average: bool, window: str | tuple[float, float],
           format: str, levels: int | None, workers: int | None,
           progress: Callable[[int, int], None] | None) -> dict[str, Any]:  # fmt: skip
    outputs = _Outputs(Path(out), format)  # a bad format is refused before any slice is read
    count, plane = open_stack(stack_dir)
    first = plane(0)
    if levels is not None and levels < 1:
        raise UnsupportedFormatError(f"levels must be at least 1, got {levels}")
    if isinstance(window, str):
        if window != "auto":
            raise UnsupportedFormatError(f"window must be 'auto' or (min, max), got {window!r}")
        lo_hi = auto_window(count, plane)
    else:
        lo_hi = (float(window[0]), float(window[1]))
    shape = (int(first.shape[0]), int(first.shape[1]))
    counts = level_counts(count, shape, levels, pair_average)
    settings = Settings(lo_hi, pair_average, format, len(counts), count, shape)
    with output_lock(Path(out)):  # a second run on the same folder fails at once
        _check_settings(Path(out), settings)
        # temporaries of a run that was killed outright (a live run would hold the lock)
        for stale in Path(out).glob("*/.*.partial-*"):
            stale.unlink()
        group = 2 if pair_average else 1
        windower = Windower(first.dtype, 4 * group, lo_hi)
        cascade = _Cascade(outputs, counts)

        def level1(j: int) -> tuple[np.ndarray | None, bool]:
            """Level-1 image j (None when nothing needs it) and whether it was written now."""
            if not cascade.needed(0, j):
                return None, False
            if outputs.exists(1, j):
                return outputs.read(1, j), False
            sources = [plane(z) for z in range(j * group, min((j + 1) * group, count))]
            planes = sources * (group // len(sources))  # an odd last slice counts twice
            image = windower.half(planes)
            outputs.write(1, j, image)
            return image, True

        workers = workers or os.cpu_count() or 1
        done = 0
        with ThreadPoolExecutor(workers, thread_name_prefix="zig-thumbs") as pool:
            ahead: deque[Future[tuple[np.ndarray | None, bool]]] = deque()
            jobs = iter(range(counts[0]))
            for j in jobs:  # keep 2 jobs per worker in flight; hand results to the cascade in order
                ahead.append(pool.submit(level1, j))
                if len(ahead) >= 2 * workers:
                    done = _drain_one(ahead, cascade, done, group, count, progress)
            while ahead:
                done = _drain_one(ahead, cascade, done, group, count, progress)
        cascade.finish()
        return {"window": lo_hi, "levels": len(counts), "written": cascade.written, "images": sum(counts)}


def _drain_one(
    ahead: deque[Future[tuple[np.ndarray | None, bool]]],
    cascade: _Cascade,
    done: int,
    group: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    image, written = ahead.popleft().result()
    cascade.written += written
    cascade.push(0, image)
    done = min(total, done + group)
    if progress:
        progress(done, total)
    return done


class _Cascade:
    """Feeds each level's images, in order, into 2x2x2 means for the next level (as needed)."""

    def __init__(self, outputs: _Outputs, counts: list[int]) -> None:
        self.outputs, self.counts = outputs, counts
        self.pending: list[list[np.ndarray]] = [[] for _ in counts]
        self.next_index = [0] * len(counts)
        self.written = 0
        # needed[k][i]: level k+1 image i must be produced (missing, or a missing parent needs it)
        self.needs = [np.zeros(c, bool) for c in counts]
        for k in reversed(range(len(counts))):
            missing = np.array([not outputs.exists(k + 1, i) for i in range(counts[k])], bool)
            parent = self.needs[k + 1][np.arange(counts[k]) // 2] if k + 1 < len(counts) else False
            self.needs[k] = missing | parent

    def needed(self, k: int, i: int) -> bool:
        return bool(self.needs[k][i])

    def push(self, k: int, image: np.ndarray | None) -> None:
        i = self.next_index[k]
        self.next_index[k] += 1
        if k + 1 >= len(self.counts):
            return
        if image is not None:
            self.pending[k].append(image)
        if i % 2 == 1 or i == self.counts[k] - 1:
            pair, self.pending[k] = self.pending[k], []
            self.push(k + 1, self._parent(k + 1, i // 2, pair))

    def _parent(self, k: int, i: int, pair: list[np.ndarray]) -> np.ndarray | None:
        if not self.needs[k][i]:
            return None
        if self.outputs.exists(k + 1, i):
            return self.outputs.read(k + 1, i)
        image: np.ndarray = reduce2(np.stack(pair * (2 // len(pair))), (0, 1, 2), "mean")[0]
        self.outputs.write(k + 1, i, image)
        self.written += 1
        return image

    def finish(self) -> None:
        for k, count in enumerate(self.counts):
            if self.next_index[k] != count:
                raise RuntimeError(f"thumbnail level {k + 1}: made {self.next_index[k]} of {count} images")


def _check_settings(out: Path, settings: Settings) -> None:
    """Refuse to mix outputs made with other settings; record ours (atomically) otherwise."""
    path = out / "settings.json"
    mine = json.loads(json.dumps(asdict(settings)))
    if path.is_file():
        theirs = json.loads(path.read_text())
        if theirs != mine:
            raise OutputExistsError(f"{out}: holds thumbnails made with other settings {theirs}; use another folder")
        return
    with atomic_path(path, lock=False) as tmp:  # under the run's lock of the folder
        Path(tmp).write_text(json.dumps(mine, indent=1))
