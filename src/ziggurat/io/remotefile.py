"""A remote object read by byte range with the interface of :class:`~ziggurat.io.files.RandomAccessFile`.

Opening costs one round trip: two parallel GETs of speculative ranges, the first ``HEAD_BYTES``
(which also answer the object's size and ETag) and the last ``TAIL_BYTES``, which between them
usually hold a TIFF's header and all of its IFDs wherever the writer put them. Small reads (a
parser walking IFDs through :meth:`RemoteFile.open`) are served from a byte-bounded cache of
aligned blocks; a region's tiles (:meth:`read_ranges`) are coalesced with a gap worth one round
trip and fetched as one round of parallel range GETs. Pickling carries the URL, size and ETag
only; a client is made per process.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Sequence

from ..errors import CorruptImageError
from .locations import Location, parse
from .ranges import coalesce
from .remote import Store, store_for

HEAD_BYTES = 128 * 1024  # the speculative first read: the header and the IFDs of files that put them first
TAIL_BYTES = 512 * 1024  # read with it, in parallel: directories written after the pixels (SVS, NDPI)
BLOCK_BYTES = 64 * 1024  # what a cache miss fetches: an IFD with its small tags (offset arrays load per level)
CACHE_BYTES = 8 << 20  # blocks kept per file (IFDs and offset arrays: a few MB at most)
#: a small object's middle (between the speculative reads) is fetched whole on the first miss: one request,
#: not one per IFD for files whose directories are spread through it (OME-TIFF planes)
WHOLE_GAP = 1 << 20
#: ranges closer than this are fetched as one: ~1 ms of transfer at 100 MB/s costs far less than a round trip
REMOTE_GAP = 256 * 1024


class RemoteFile:
    """An object in a bucket or on a web server, read by (offset, length); safe in threads and after fork."""

    def __init__(
        self, url: str | Location, *, head_bytes: int | None = None, tail_bytes: int | None = None,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:  # fmt: skip
        self.location = url if isinstance(url, Location) else parse(url)
        self.path = self.location.url
        self._store: Store = store_for(self.location)
        self._cache_bytes = cache_bytes
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()
        head = HEAD_BYTES if head_bytes is None else head_bytes
        tail_size = TAIL_BYTES if tail_bytes is None else tail_bytes
        self._head, tail, self.size, self.etag = self._store.get_ends(self.location.key, head, tail_size)
        self._tail_at = self.size - len(tail)
        self._tail = tail

    @property
    def identity(self) -> tuple[object, ...]:
        """What the bytes are, for cache keys: the URL, ETag and size."""
        return self.path, self.etag, self.size

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CorruptImageError(
                f"{self.path}: object truncated (wanted {length} bytes at offset {offset}, object has {self.size})"
            )
        held = self._fetched(offset, offset + length)
        if held is None and 0 < self._tail_at - len(self._head) <= WHOLE_GAP:
            self._fill_gap()
            held = self._fetched(offset, offset + length)
        if held is not None:
            return bytes(held)
        if length > 4 * BLOCK_BYTES:
            return self._fetch([(offset, length)])[0]
        first, last = offset // BLOCK_BYTES, (offset + length - 1) // BLOCK_BYTES
        blocks = self._cached_blocks(range(first, last + 1))
        data = b"".join(blocks)
        start = offset - first * BLOCK_BYTES
        return data[start : start + length]

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Many (offset, length) ranges in one round of parallel, coalesced requests."""
        out: list[bytes] = [b""] * len(ranges)
        plan = coalesce(ranges, REMOTE_GAP)
        wanted = [read for read in plan if read.span.length and self._fetched(read.span.offset, read.span.end) is None]
        blobs = iter(self._fetch([read.span for read in wanted]))
        for read in plan:
            if not read.span.length:
                continue
            held = self._fetched(read.span.offset, read.span.end)
            blob = memoryview(next(blobs)) if held is None else held
            for i in read.members:
                offset, length = ranges[i]
                out[i] = bytes(blob[offset - read.span.offset : offset - read.span.offset + length])
        return out

    def _fetched(self, offset: int, end: int) -> memoryview | None:
        """Bytes [offset, end) if the speculative reads at opening hold them."""
        if end <= len(self._head):
            return memoryview(self._head)[offset:end]
        if self._tail and offset >= self._tail_at:
            return memoryview(self._tail)[offset - self._tail_at : end - self._tail_at]
        return None

    def _fill_gap(self) -> None:
        """Fetch the bytes between the head and the tail; the head then reaches the tail."""
        with self._lock:
            start, stop = len(self._head), self._tail_at
            if start < stop:
                self._head = self._head + self._fetch([(start, stop - start)])[0]

    def open(self) -> RemoteReader:
        """A seekable binary file object over the object (what tifffile and other parsers read)."""
        return RemoteReader(self)

    def close(self) -> None:
        with self._lock:
            self._blocks.clear()
            self._cached = 0

    def _fetch(self, spans: Sequence[tuple[int, int]]) -> list[bytes]:
        for offset, length in spans:
            if offset + length > self.size:
                raise CorruptImageError(f"{self.path}: range {offset}+{length} lies past the end ({self.size} bytes)")
        return self._store.get_ranges(self.location.key, spans)

    def _cached_blocks(self, indices: range) -> list[bytes]:
        with self._lock:
            found = {i: self._blocks[i] for i in indices if i in self._blocks}
            for i in found:
                self._blocks.move_to_end(i)
        missing = [i for i in indices if i not in found]
        if missing:  # consecutive blocks: one request
            start = missing[0] * BLOCK_BYTES
            stop = min((missing[-1] + 1) * BLOCK_BYTES, self.size)
            blob = self._fetch([(start, stop - start)])[0]
            with self._lock:
                for i in missing:
                    block = blob[(i - missing[0]) * BLOCK_BYTES : (i - missing[0] + 1) * BLOCK_BYTES]
                    found[i] = block
                    if i not in self._blocks:
                        self._blocks[i] = block
                        self._cached += len(block)
                while self._cached > self._cache_bytes and self._blocks:
                    self._cached -= len(self._blocks.popitem(last=False)[1])
        return [found[i] for i in indices]

    def __getstate__(self) -> dict[str, object]:
        return {"url": self.path, "size": self.size, "etag": self.etag, "cache_bytes": self._cache_bytes}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.location = parse(str(state["url"]))
        self.path = self.location.url
        self._store = store_for(self.location)
        self._cache_bytes = int(state["cache_bytes"])  # type: ignore[call-overload]
        self._blocks = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()
        self._head, self.size, self.etag = b"", int(state["size"]), state["etag"]  # type: ignore[call-overload, assignment]
        self._tail, self._tail_at = b"", self.size


class RemoteReader(io.RawIOBase):
    """A file position over a :class:`RemoteFile` (each reader has its own position)."""

    def __init__(self, file: RemoteFile) -> None:
        super().__init__()
        self._file = file
        self._pos = 0
        self.name = file.path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._file.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        length = max(0, min(len(buffer), self._file.size - self._pos))
        if length:
            memoryview(buffer).cast("B")[:length] = self._file.read(self._pos, length)
            self._pos += length
        return length

    def readall(self) -> bytes:
        data = self._file.read(self._pos, self._file.size - self._pos)
        self._pos = self._file.size
        return data
