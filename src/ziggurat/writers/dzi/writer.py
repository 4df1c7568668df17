"""DeepZoom (and XYZ) pyramids from any Image, in one streaming pass over the slide.

Every stored tile of the source is read and decoded once; each coarser level is the 2x2 area
average of the one below, built in memory band by band (:mod:`.stream`); tiles are encoded and
written on all cores (:mod:`.tilewriter`). When the output grid lines up with the file's own JPEG
tiles (tile size = stored tile size, no overlap), their compressed bytes are copied instead of
re-encoded, and a stored level that matches the next grid level is read instead of decoding the
finer one. Output is atomic: a failed or interrupted run leaves no ``OUT.dzi``. An ``s3://…/OUT.dzi``
output is built on local disk, then uploaded tiles first and ``OUT.dzi`` last (:mod:`ziggurat.io.upload`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import EncodingError, OutOfRangeError, UnsupportedFormatError, ZigguratError
from ...io.atomic import OutputExistsError, atomic_group, atomic_path
from ...io.locations import Location, is_url, parse
from ...io.upload import occupied, staged, upload_dzi
from ...model.image import Image
from ...model.level import Level
from ...render.encode import check_quality, encoding_for
from ...tiles.grid import DeepZoomGrid, TileGrid, XYZGrid, dzi_xml
from .bands import RegionBands
from .stream import build_chain
from .tilewriter import Progress, TileWriter

LAYOUTS = ("dz", "google")
BOUNDS_KEYS = (
    "openslide.bounds-x",
    "openslide.bounds-y",
    "openslide.bounds-width",
    "openslide.bounds-height",
)


def write_dzi(
    image: Image | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    tile_size: int | None = None,
    overlap: int | None = None,
    format: str = "jpeg",  # the DeepZoom attribute's name
    quality: int = 90,
    background: str | tuple[int, ...] = "ffffff",
    limit_bounds: bool = False,
    layout: str = "dz",
    overwrite: bool = False,
    skip_bad_tiles: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Write a DeepZoom tree (``OUT.dzi`` + ``OUT_files/``, local or ``s3://``) or, with
    ``layout="google"``, a local ``OUT/z/y/x``.

    ``tile_size``/``overlap`` default to 254/1 (DeepZoom) or 256/0 (google). Returns metrics:
    tiles, seconds, tiles_per_s, peak_rss_mb, bytes_written, copied_tiles, bad_tiles.
    """
    start = time.perf_counter()
    if layout not in LAYOUTS:
        raise EncodingError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    google = layout == "google"
    tile_size = (256 if google else 254) if tile_size is None else tile_size
    overlap = (0 if google else 1) if overlap is None else overlap
    if google and overlap:
        raise EncodingError("layout google: tiles have no overlap")
    encoding = encoding_for(format)
    quality = check_quality(quality)
    owned = not isinstance(image, Image)
    image = image if isinstance(image, Image) else _open(image)
    try:
        region = _region(image, limit_bounds)
        grid: TileGrid = (
            XYZGrid(region[2], region[3], tile_size)
            if google
            else DeepZoomGrid(region[2], region[3], tile_size, overlap)
        )
        fill = _fill(background, image.levels[0])
        encoding.encode(np.empty((1, 1, image.channels), image.dtype), quality)  # can it encode?
        job = _Job(image, grid, region, fill, skip_bad_tiles, google, encoding.name == "jpeg")
        if google:
            if is_url(out):
                raise UnsupportedFormatError(f"{out}: layout google is written to local folders only; "
                                             "write OUT.dzi (the DeepZoom layout) to object storage")  # fmt: skip
            with atomic_path(out, directory=True, overwrite=overwrite) as tmp:
                job.run(_xyz_paths(tmp, grid, encoding.extension), encoding, quality, workers, progress)
        else:
            # an s3:// output is built on local disk, then uploaded with OUT.dzi last
            with staged(_dzi_name(out), "image.dzi") as (local, remote):
                if remote is not None and not overwrite:
                    _refuse_existing(remote)
                dzi, files = _write_dz(job, local, overwrite, (encoding, quality, workers, progress))
                if remote is not None:
                    upload_dzi(dzi, files, remote, overwrite=overwrite)
    finally:
        if owned:
            image.close()
    seconds = time.perf_counter() - start
    return {
        "tiles": job.writer.done,
        "seconds": round(seconds, 3),
        "tiles_per_s": round(job.writer.done / seconds, 1) if seconds else 0.0,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "bytes_written": job.writer.bytes_written,
        "copied_tiles": job.writer.copied,
        "levels": grid.level_count,
        "bad_tiles": job.bad_tiles,
    }


def _write_dz(job: _Job, out: Path, overwrite: bool, how: tuple[Any, int, int | None, Progress | None]
              ) -> tuple[Path, Path]:  # fmt: skip
    """Write ``OUT.dzi`` and ``OUT_files/`` locally (``how``: encoding, quality, workers, progress)."""
    base = out.with_suffix("") if out.suffix == ".dzi" else out
    dzi, files = Path(f"{base}.dzi"), Path(f"{base}_files")
    for path in (dzi, files):
        if path.exists() and not overwrite:
            raise OutputExistsError(f"{path}: exists (use --overwrite to replace it)")
    encoding, quality, workers, progress = how
    grid = job.grid
    # the descriptor is put in place last and removed first, so OUT.dzi means a complete tree
    with atomic_group([(files, True), (dzi, False)], overwrite=overwrite) as (tmp_files, tmp_dzi):
        job.run(_dz_paths(tmp_files, grid, encoding.extension), encoding, quality, workers, progress)
        xml = dzi_xml(grid.width, grid.height, grid.tile_size, grid.overlap, encoding.extension)
        Path(tmp_dzi).write_text(xml, encoding="utf-8")
    return dzi, files


def _dzi_name(out: str | os.PathLike[str]) -> str:
    """``OUT.dzi`` for an output given with or without the suffix."""
    text = os.fspath(out)
    return text if text.endswith(".dzi") else f"{text}.dzi"


def _refuse_existing(remote: Location) -> None:
    """Fail before any work when an s3:// output (its ``.dzi`` or ``_files/``) exists."""
    for target in (remote, parse(remote.url[: -len(".dzi")] + "_files")):
        if occupied(target):
            raise OutputExistsError(f"{target.url}: exists (use --overwrite to replace it)")


class _Job:
    """One pyramid: plans which levels are copied, read from a stored level, or downsampled."""

    def __init__(self, image: Image, grid: TileGrid, region: tuple[int, int, int, int],
                 fill: np.ndarray, skip_bad_tiles: bool, google: bool, jpeg: bool) -> None:  # fmt: skip
        self.image, self.grid, self.region, self.fill = image, grid, region, fill
        self.skip_bad_tiles, self.google = skip_bad_tiles, google
        self.bad_tiles: list[dict[str, Any]] = []
        self.writer: TileWriter
        # the stored level that supplies each grid level's pixels directly, when one matches
        finest = grid.level_count - 1
        self.stored: dict[int, Level] = {finest: image.levels[0]}
        if region[:2] == (0, 0) and region[2:] == image.dimensions:
            by_size = {level.size: level for level in image.levels}
            for k in range(finest):
                if grid.level_dimensions[k] in by_size:
                    self.stored[k] = by_size[grid.level_dimensions[k]]
        # grid levels whose full tiles are the file's own JPEG tiles, copied as they are
        self.copyable = {k for k, level in self.stored.items() if jpeg and self._aligned(level)}

    def run(self, path_for: Callable[[int, int, int], str], encoding: Any, quality: int,
            workers: int | None, progress: Progress | None) -> None:  # fmt: skip
        grid = self.grid
        self.writer = TileWriter(path_for, encoding, quality, grid.tile_count, self.fill,
                                 workers=workers, progress=progress)  # fmt: skip
        try:
            k = grid.level_count - 1
            # levels whose tiles are all copied need no pixels when the next level is stored
            while k in self.copyable and k - 1 in self.stored:
                self._copy_level(k)
                k -= 1
            self._stream_levels(k)
        except BaseException:
            self.writer.abort()
            raise
        self.writer.close()

    def _aligned(self, level: Level) -> bool:
        """The grid's tiles at this level are the stored tiles (same size, origin, no overlap)."""
        ts = self.grid.tile_size
        return (
            self.grid.overlap == 0
            and level.tile_shape == (ts, ts)
            and self.region[0] % ts == 0
            and self.region[1] % ts == 0
            and level.raw_tiles([]) is not None
        )

    def _stream_levels(self, finest: int) -> None:
        """Decode the stored level for grid level ``finest`` once; build every coarser level from it."""
        level = self.stored[finest]
        w, h = self.grid.level_dimensions[finest]
        x0, y0 = (self.region[0], self.region[1]) if level.index == 0 else (0, 0)
        bands = RegionBands(level, (x0, y0, w, h), self.fill, self.skip_bad_tiles)
        chain = build_chain(self.grid, finest, 0, self._emit_row)
        for band in bands:
            chain.push(band)
        chain.finish()
        self.bad_tiles.extend(bands.bad_tiles)

    def _emit_row(self, k: int, row: int, pieces: list[np.ndarray]) -> None:
        """Write tile row ``row`` of grid level ``k`` from the row pieces that hold its pixels."""
        copied = self._copy_row(k, row) if k in self.copyable else set()
        pad = self.grid.tile_size if self.google else 0
        for col in range(self.grid.level_tiles[k][0]):
            if col not in copied:
                x, _, w, _ = self.grid.tile_bounds(k, col, row)
                self.writer.pixels(k, col, row, [p[:, x : x + w] for p in pieces], pad)

    def _copy_level(self, k: int) -> None:
        """Copy a level's full tiles from the file; encode only its cut edge tiles."""
        level = self.stored[k]
        cols, rows = self.grid.level_tiles[k]
        for row in range(rows):
            copied = self._copy_row(k, row)
            for col in set(range(cols)) - copied:
                x, y, w, h = self.grid.tile_bounds(k, col, row)
                x0, y0 = (self.region[0], self.region[1]) if level.index == 0 else (0, 0)
                bands = RegionBands(level, (x0 + x, y0 + y, w, h), self.fill, self.skip_bad_tiles)
                tile = bands.read(y0 + y, h)
                self.bad_tiles.extend(bands.bad_tiles)
                self.writer.pixels(k, col, row, [tile], self.grid.tile_size if self.google else 0)

    def _copy_row(self, k: int, row: int) -> set[int]:
        """Copy the full-size tiles of one tile row; return the columns copied.

        A stored tile that is not a whole JPEG (start and end markers) is left to the decoding
        path, which reports it (or fills it with ``skip_bad_tiles``).
        """
        ts = self.grid.tile_size
        level = self.stored[k]
        ox, oy = (self.region[0] // ts, self.region[1] // ts) if level.index == 0 else (0, 0)
        cols = [c for c in range(self.grid.level_tiles[k][0]) if self.grid.tile_bounds(k, c, row)[2:] == (ts, ts)]
        blobs = level.raw_tiles([(oy + row, ox + c) for c in cols]) or []
        copied = set()
        for col, data in zip(cols, blobs):
            if data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9":
                self.writer.raw(k, col, row, data)
                copied.add(col)
        return copied


def _open(path: str | os.PathLike[str]) -> Image:
    """Open a path for one sequential pass: TIFFs without the decoded-tile cache."""
    from ...model.image import open_image

    try:
        return open_image(path, backend="tiff", decoded_cache=False)
    except ZigguratError:  # not a TIFF tifffile reads: let the registry pick the backend
        return open_image(path)


def _region(image: Image, limit_bounds: bool) -> tuple[int, int, int, int]:
    """(x, y, width, height) of level 0 to tile: the whole image, or openslide's bounds."""
    width, height = image.dimensions
    props = image.properties
    if not limit_bounds or not all(key in props for key in BOUNDS_KEYS):
        return 0, 0, width, height
    x, y, w, h = (int(props[key]) for key in BOUNDS_KEYS)
    x, y = max(0, x), max(0, y)
    w, h = min(w, width - x), min(h, height - y)
    if w < 1 or h < 1:
        raise OutOfRangeError(f"{image.path}: bounds {props[BOUNDS_KEYS[0]]}.. lie outside the image")
    return x, y, w, h


def _fill(background: str | tuple[int, ...], level: Level) -> np.ndarray:
    """The background as one pixel of the level's channels and dtype."""
    if isinstance(background, str):
        text = background.lstrip("#")
        try:
            if len(text) != 6:
                raise ValueError(text)
            rgb = tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            raise EncodingError(f"background: expected RRGGBB hex, got {background!r}") from None
    else:
        rgb = tuple(int(v) for v in background)
    channels = level.shape[2]
    if channels == 1:
        values: tuple[float, ...] = (sum(rgb[:3]) / len(rgb[:3]),)
    else:
        values = (rgb + (255,) * channels)[:channels]
    return np.array(values, dtype=level.dtype)


def _dz_paths(root: str, grid: TileGrid, ext: str) -> Callable[[int, int, int], str]:
    for k in range(grid.level_count):
        os.mkdir(os.path.join(root, str(k)))
    return lambda k, col, row: f"{root}/{k}/{col}_{row}.{ext}"


def _xyz_paths(root: str, grid: TileGrid, ext: str) -> Callable[[int, int, int], str]:
    for z, (_, rows) in enumerate(grid.level_tiles):
        for row in range(rows):
            os.makedirs(os.path.join(root, str(z), str(row)))
    return lambda z, col, row: f"{root}/{z}/{row}/{col}.{ext}"


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
