"""Local files read by byte range for many threads and processes: positional, coalesced, fork-aware.

``os.pread`` needs no shared file position, so one descriptor serves every thread without a lock.
A descriptor is never used across a fork: a child process opens its own on first read.
Neighbouring byte ranges (adjacent tiles) are fetched with one read when the gap between them is
small, since one larger read costs less than several small ones.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from ..errors import CorruptImageError
from .ranges import coalesce


class RandomAccessFile:
    """A local file read by (offset, length), safe in threads and after fork."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = os.path.getsize(path)
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()

    @property
    def identity(self) -> tuple[object, ...]:
        """What the bytes are, for cache keys: the real path, modification time and size."""
        stat = os.stat(self.path)
        return os.path.realpath(self.path), stat.st_mtime_ns, stat.st_size

    def _descriptor(self) -> int:
        pid = os.getpid()
        if self._fd is None or self._pid != pid:
            with self._lock:
                if self._fd is None or self._pid != pid:
                    self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                    self._pid = pid
        return self._fd

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:  # before allocating ``length`` bytes
            raise CorruptImageError(
                f"{self.path}: {length} bytes at offset {offset} lie past the end of the file ({self.size} bytes)"
            )
        data = os.pread(self._descriptor(), length, offset)
        if len(data) != length:
            raise CorruptImageError(
                f"{self.path}: file truncated (wanted {length} bytes at offset {offset}, file has {self.size})"
            )
        return data

    def readinto(self, offset: int, buffer: memoryview) -> None:
        """Fill ``buffer`` with the bytes at ``offset``: no allocation per read (a fresh bytes object
        of 128 KiB or more costs its page faults each time)."""
        length = buffer.nbytes
        if offset < 0 or offset + length > self.size:
            raise CorruptImageError(
                f"{self.path}: {length} bytes at offset {offset} lie past the end of the file ({self.size} bytes)"
            )
        view, done = buffer.cast("B"), 0
        while done < length and (got := os.preadv(self._descriptor(), [view[done:]], offset + done)) > 0:
            done += got
        if done != length:
            raise CorruptImageError(
                f"{self.path}: file truncated (wanted {length} bytes at offset {offset}, file has {self.size})"
            )

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Read many (offset, length) ranges (:class:`~ziggurat.io.ranges.ByteRange`), merging
        neighbours into single reads."""
        out: list[bytes] = [b""] * len(ranges)
        for span, members in coalesce(ranges):
            if len(members) == 1:
                out[members[0]] = self.read(*span) if span.length else b""
                continue
            blob = memoryview(self.read(*span))
            for i in members:
                offset, length = ranges[i]
                out[i] = bytes(blob[offset - span.offset : offset - span.offset + length])
        return out

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __getstate__(self) -> dict[str, str]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, str]) -> None:
        RandomAccessFile.__init__(self, state["path"])
