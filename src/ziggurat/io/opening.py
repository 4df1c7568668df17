"""Open bytes wherever they live: a local path gives a RandomAccessFile, a URL a RemoteFile.

Both read by (offset, length) and by coalesced range lists, so a source written for one reads the
other. The registry probes a URL by opening it (its speculative first read is the probe's head); the
backend that then opens the URL gets the same handle if it asks within ``REUSE_SECONDS``, so probing
and opening cost one request together.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Protocol, TypeVar

from .files import RandomAccessFile
from .locations import is_url, local_path, parse
from .remotefile import RemoteFile

REUSE_SECONDS = 10.0
_recent: OrderedDict[tuple[int, str, str], tuple[float, Any]] = OrderedDict()
_lock = threading.Lock()
T = TypeVar("T")


class ByteFile(Protocol):
    """What sources read: a local or a remote file."""

    path: str
    size: int

    @property
    def identity(self) -> tuple[object, ...]: ...
    def read(self, offset: int, length: int) -> bytes: ...
    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]: ...
    def close(self) -> None: ...


def open_file(path: str | os.PathLike[str]) -> ByteFile:
    """The byte file at ``path`` (a local path or an ``s3://`` / ``http(s)://`` URL)."""
    text = os.fspath(path)
    if not is_url(text):
        return RandomAccessFile(local_path(text))
    return recent("file", parse(text).url, lambda: RemoteFile(text), once=True)


def open_files(paths: Sequence[str], *, head_bytes: int | None = None, tail_bytes: int | None = None) -> list[ByteFile]:
    """The byte files at ``paths``, the URLs among them opened in parallel: their speculative reads
    (``head_bytes`` and ``tail_bytes``, RemoteFile's defaults when None) cost one round trip for all."""

    def one(path: str) -> ByteFile:
        if not is_url(path):
            return RandomAccessFile(local_path(path))
        return recent("file", parse(path).url, lambda: RemoteFile(path, head_bytes=head_bytes, tail_bytes=tail_bytes),
                      once=True)  # fmt: skip

    if sum(map(is_url, paths)) < 2:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(min(16, len(paths)), thread_name_prefix="zig-open") as pool:
        return list(pool.map(one, paths))


def recent(kind: str, url: str, make: Callable[[], T], *, once: bool = False) -> T:
    """``make()``, or what it gave for the same URL in this process within ``REUSE_SECONDS``: the
    probe and the open of one object share its first request. ``once``: handed out again at most
    once (an open file's cached bytes must not outlive the open that probed it)."""
    key = (os.getpid(), kind, url)
    now = time.monotonic()
    with _lock:
        for old in [k for k, (t, _) in _recent.items() if now - t > REUSE_SECONDS]:
            del _recent[old]
        hit = _recent.pop(key, None) if once else _recent.get(key)
    if hit is not None:
        return hit[1]  # type: ignore[no-any-return]
    value = make()
    with _lock:
        _recent[key] = (now, value)
        while len(_recent) > 256:
            _recent.popitem(last=False)
    return value


def forget() -> None:
    """Drop the handles kept for reuse: the next open of any URL starts with its own requests."""
    with _lock:
        _recent.clear()


def parser_input(file: ByteFile) -> str | BinaryIO:
    """What a parser (tifffile, pydicom) opens: the local path, or a seekable reader of the object."""
    return file.open() if isinstance(file, RemoteFile) else file.path  # type: ignore[return-value]
