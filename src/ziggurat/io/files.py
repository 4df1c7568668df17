"""Random-access reads for many threads and processes: positional reads, coalesced, fork-aware.

``os.pread`` needs no shared file position, so one descriptor serves every thread without a lock.
A descriptor is never used across a fork: a child process opens its own on first read.
Neighbouring byte ranges (adjacent tiles) are fetched with one read when the gap between them is
small, since one larger read costs less than several small ones.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ..errors import CorruptImageError

COALESCE_GAP = 64 * 1024


class RandomAccessFile:
    """A local file read by (offset, length), safe in threads and after fork."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = os.path.getsize(path)
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def _descriptor(self) -> int:
        pid = os.getpid()
        if self._fd is None or self._pid != pid:
            with self._lock:
                if self._fd is None or self._pid != pid:
                    self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                    self._pid = pid
        return self._fd

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._descriptor(), length, offset)
        if len(data) != length:
            raise CorruptImageError(
                f"{self.path}: file truncated (wanted {length} bytes at offset {offset}, file has {self.size})"
            )
        return data

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Read many (offset, length) ranges, merging neighbours into single reads."""
        order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        out: list[bytes] = [b""] * len(ranges)
        group: list[int] = []
        start = end = 0
        for i in order:
            offset, length = ranges[i]
            if group and offset - end <= COALESCE_GAP and offset >= start:
                group.append(i)
                end = max(end, offset + length)
                continue
            if group:
                self._read_group(group, ranges, start, end, out)
            group, start, end = [i], offset, offset + length
        if group:
            self._read_group(group, ranges, start, end, out)
        return out

    def _read_group(
        self, group: list[int], ranges: Sequence[tuple[int, int]], start: int, end: int, out: list[bytes]
    ) -> None:
        if len(group) == 1:
            offset, length = ranges[group[0]]
            out[group[0]] = self.read(offset, length) if length else b""
            return
        blob = memoryview(self.read(start, end - start))
        for i in group:
            offset, length = ranges[i]
            out[i] = bytes(blob[offset - start : offset - start + length])

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __getstate__(self) -> dict[str, str]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, str]) -> None:
        RandomAccessFile.__init__(self, state["path"])


_pool: ThreadPoolExecutor | None = None
_pool_pid = -1
_pool_lock = threading.Lock()


def decode_pool() -> ThreadPoolExecutor:
    """The process's decode threads (recreated in a forked child, whose copy has no threads)."""
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _pool_lock:
            if _pool is None or _pool_pid != pid:
                _pool = ThreadPoolExecutor(
                    max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="ziggurat-decode"
                )
                _pool_pid = pid
    return _pool
