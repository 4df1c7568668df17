"""Encode and write tiles on a pool of threads, with a bound on the tiles in flight.

imagecodecs' encoders (libjpeg-turbo, libpng, libwebp) release the GIL, so threads use every core
without copying pixels to other processes. At most ``16 * workers`` tiles wait at any time; they
are views of rows the level streams hold anyway, so the queue adds little memory.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import imagecodecs
import numpy as np

from ...render.encode import Encoding

IN_FLIGHT_PER_WORKER = 16
PROGRESS_EVERY = 0.1  # seconds between progress reports
Progress = Callable[[int, int], None]


def tile_encoder(encoding: Encoding, quality: int) -> Callable[[np.ndarray], bytes]:
    """``encode(tile)``; JPEG follows dzsave: no chroma subsampling at quality >= 90."""
    if encoding.name == "jpeg":
        subsampling = "444" if quality >= 90 else "420"
        return lambda tile: bytes(imagecodecs.jpeg8_encode(tile, level=quality, subsampling=subsampling))

    def encode(tile: np.ndarray) -> bytes:
        data = encoding.encode(tile, quality)
        assert isinstance(data, bytes), "a tile file encoding returns bytes"
        return data

    return encode


class TileWriter:
    """Write tiles as files named by ``path_for(level, col, row)``; ``close`` waits for all."""

    def __init__(
        self,
        path_for: Callable[[int, int, int], str],
        encoding: Encoding,
        quality: int,
        total: int,
        fill: np.ndarray,
        *,
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.path_for, self.encoding, self.quality = path_for, encoding, quality
        self.total, self.progress, self.fill = total, progress, fill
        self.workers = workers or os.cpu_count() or 1
        self._encode = tile_encoder(encoding, quality)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ziggurat-encode")
        self._slots = threading.BoundedSemaphore(IN_FLIGHT_PER_WORKER * self.workers)
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self.done = 0
        self.bytes_written = 0
        self.copied = 0
        self._reported = 0.0

    def pixels(self, level: int, col: int, row: int, pieces: list[np.ndarray], pad_to: int = 0) -> None:
        """Encode a tile given as row pieces (joined on a worker), padded right and below to a
        ``pad_to`` square with ``fill`` if given."""
        self._submit(self._encode_pixels, level, col, row, pieces, pad_to)

    def raw(self, level: int, col: int, row: int, data: bytes) -> None:
        """Write already encoded bytes (pass-through of the source's compressed tiles)."""
        self._submit(self._write, level, col, row, data, True)

    def _submit(self, func: Callable[..., None], *args: object) -> None:
        self._slots.acquire()
        if self._error is not None:
            self._slots.release()
            raise self._error
        future = self._pool.submit(func, *args)
        future.add_done_callback(self._finished)

    def _encode_pixels(self, level: int, col: int, row: int, pieces: list[np.ndarray], pad_to: int) -> None:
        tile = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        if pad_to and tile.shape[:2] != (pad_to, pad_to):
            padded = np.empty((pad_to, pad_to, tile.shape[2]), tile.dtype)
            padded[...] = self.fill
            padded[: tile.shape[0], : tile.shape[1]] = tile
            tile = padded
        data = self._encode(np.ascontiguousarray(tile))
        self._write(level, col, row, data, False)

    def _write(self, level: int, col: int, row: int, data: bytes, copied: bool) -> None:
        fd = os.open(self.path_for(level, col, row), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        with self._lock:
            self.bytes_written += len(data)
            self.copied += copied

    def _finished(self, future: Future[None]) -> None:
        self._slots.release()
        if future.cancelled():
            return
        error = future.exception()
        with self._lock:
            if error is not None:
                self._error = self._error or error
                return
            self.done += 1
            done, now = self.done, time.monotonic()
            report = now - self._reported >= PROGRESS_EVERY or done == self.total
            if report:
                self._reported = now
        if report and self.progress is not None:
            try:
                self.progress(done, self.total)
            except BaseException as exc:
                with self._lock:
                    self._error = self._error or exc

    def close(self) -> None:
        """Wait for every submitted tile; re-raise the first failure."""
        self._pool.shutdown(wait=True)
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Drop queued tiles and stop the workers (after a failure elsewhere)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
