"""Direct chunk reads from a local Zarr v3 array: shard index cached, bytes by ``os.pread``, decoded in C.

zarr-python spends ~0.5-2 ms per read in its async machinery, more than decoding a slice costs. For
the layouts ziggurat writes (``sharding_indexed`` of ``bytes`` + ``blosc``/``zstd`` inner chunks, or
unsharded chunks with those codecs) this module reads the same bytes itself: each shard's index is
read once and cached, the chunks a request touches in one shard are fetched with one coalesced
``pread`` when they lie close together, and imagecodecs decodes them (GIL released, so a small
thread pool decodes chunks in parallel). Anything else goes through zarr-python (see :mod:`ziggurat.sources.zarr`).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np

from ..errors import CorruptImageError
from ..io.pools import decode_pool
from ..io.remotepath import RemotePath, as_path

MISSING = np.uint64(2**64 - 1)
WORKERS = max(2, min(8, os.cpu_count() or 2))  # threads decoding one request, the caller included
_SCRATCH = threading.local()  # per-thread decode buffer for chunks that are copied out partially
PARALLEL_BYTES = 256 * 1024  # below this much decoded output, decode in the calling thread


Decoder = Callable[[bytes | memoryview, np.ndarray | None], Any]
Fetched = tuple[tuple[int, ...], bytes | memoryview | None]
Place = tuple[Sequence[tuple[int, int]], np.ndarray]  # (box, the output it fills)
Job = tuple[tuple[int, ...], bytes | memoryview | None, list[Place]]


class UnsupportedLayout(Exception):
    """This array's codecs are not on the fast path; the caller falls back to zarr-python."""


def _copy(data: bytes | memoryview, out: np.ndarray | None) -> bytes | np.ndarray:
    if out is None:
        return bytes(data)
    out[:] = np.frombuffer(data, np.uint8)
    return out


def _decoder(codecs: Sequence[dict[str, Any]], dtype: np.dtype[Any]) -> Decoder:
    """``decode(data, out)`` for ``[bytes, blosc|zstd?]`` (``out``: uint8 buffer or None); else unsupported."""
    if not codecs or codecs[0].get("name") != "bytes":
        raise UnsupportedLayout("first codec is not 'bytes'")
    endian = codecs[0].get("configuration", {}).get("endian", "little")
    if dtype.itemsize > 1 and endian != "little":
        raise UnsupportedLayout("big-endian chunks")
    rest = [c.get("name") for c in codecs[1:]]
    if rest == []:
        return _copy
    if rest == ["blosc"]:
        return lambda data, out: imagecodecs.blosc_decode(data, numthreads=1, out=out)  # type: ignore[arg-type]
    if rest == ["zstd"]:
        return lambda data, out: imagecodecs.zstd_decode(data, out=out)  # type: ignore[arg-type]
    raise UnsupportedLayout(f"codecs {rest}")


class ChunkReader:
    """Reads any box of a local Zarr v3 array (sharded or not) straight from its files."""

    copyable = False  # unsharded [bytes, blosc] chunks with fill 0: an output may copy them as they are
    stored_codec: tuple[str, int] = ("", 0)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ChunkReader:
        """The reader of the array at ``path``; one that can hand out stored chunks when they are copyable."""
        reader = cls(path)
        if reader.copyable:  # same state, one more ability: no second parse of zarr.json
            copyable = CopyableChunkReader.__new__(CopyableChunkReader)
            copyable.__dict__.update(reader.__dict__)
            return copyable
        return reader

    def __init__(self, path: str | os.PathLike[str] | RemotePath) -> None:
        self.path: Path = as_path(path)  # type: ignore[assignment]  # a RemotePath for RemoteChunkReader
        meta = json.loads((self.path / "zarr.json").read_text())
        if meta.get("zarr_format") != 3 or meta.get("node_type") != "array":
            raise UnsupportedLayout("not a zarr v3 array")
        self.shape = tuple(meta["shape"])
        self.dtype = np.dtype(meta["data_type"])
        self.fill_value = meta.get("fill_value", 0) or 0
        grid = meta["chunk_grid"]["configuration"]["chunk_shape"]
        enc = meta.get("chunk_key_encoding", {"name": "default"})
        self._sep = enc.get("configuration", {}).get("separator", "/" if enc["name"] == "default" else ".")
        self._prefix = ["c"] if enc["name"] == "default" else []
        codecs = meta["codecs"]
        if len(codecs) == 1 and codecs[0]["name"] == "sharding_indexed":
            cfg = codecs[0]["configuration"]
            self.chunks = tuple(cfg["chunk_shape"])
            self.shard_shape = tuple(grid)
            self._decode = _decoder(cfg["codecs"], self.dtype)
            index_codecs = [c["name"] for c in cfg.get("index_codecs", [])]
            if index_codecs not in (["bytes"], ["bytes", "crc32c"]):
                raise UnsupportedLayout(f"index codecs {index_codecs}")
            self._index_crc = len(index_codecs) == 2
            self._index_at_end = cfg.get("index_location", "end") == "end"
        else:
            self.chunks = self.shard_shape = tuple(grid)
            self._decode = _decoder(codecs, self.dtype)
            self.copyable = [c.get("name") for c in codecs] == ["bytes", "blosc"] and self.fill_value == 0
            if self.copyable:
                blosc = codecs[1].get("configuration", {})
                self.stored_codec = (str(blosc.get("cname")), int(blosc.get("clevel", 0)))
            self._index_crc = False
            self._index_at_end = True
        self.sharded = self.chunks != self.shard_shape
        self._per_shard = tuple(s // c for s, c in zip(self.shard_shape, self.chunks))
        self._chunk_nbytes = int(np.prod(self.chunks)) * self.dtype.itemsize
        self._indexes: dict[tuple[int, ...], np.ndarray | None] = {}
        self._lock = threading.Lock()

    # -- files ------------------------------------------------------------------------------
    def _file(self, shard: tuple[int, ...]) -> Path:
        return self.path.joinpath(self._sep.join(self._prefix + [str(i) for i in shard]))

    def _index(self, shard: tuple[int, ...]) -> np.ndarray | None:
        """(chunks per shard..., 2) offsets and sizes, or None when the shard file is absent."""
        if shard in self._indexes:
            return self._indexes[shard]
        path = self._file(shard)
        n = int(np.prod(self._per_shard))
        size = 16 * n + (4 if self._index_crc else 0)
        try:
            with open(path, "rb") as f:
                file_size = os.fstat(f.fileno()).st_size
                if file_size < size:
                    raise CorruptImageError(f"{path}: shard shorter than its index")
                raw = os.pread(f.fileno(), size, file_size - size if self._index_at_end else 0)
        except FileNotFoundError:
            index = None
        else:
            index = np.frombuffer(raw[: 16 * n], dtype="<u8").reshape(*self._per_shard, 2)
        with self._lock:
            self._indexes[shard] = index
        return index

    # -- reads ------------------------------------------------------------------------------
    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        """The in-bounds box ``[(start, stop), ...]`` (one pair per axis) as a new array."""
        out = np.empty(tuple(b - a for a, b in box), self.dtype)
        self.read_into([(box, out)])
        return out

    def read_into(self, targets: Sequence[Place]) -> None:
        """Fill each ``out`` (shaped as its box, any strides) with its in-bounds ``box``: a batch in one
        call, each chunk the boxes share fetched and decoded once, nearby chunks of a shard coalesced."""
        wanted: dict[tuple[int, ...], list[Place]] = {}
        for box, out in targets:
            if out.size:
                ranges = [range(a // c, (b - 1) // c + 1) for (a, b), c in zip(box, self.chunks)]
                for chunk in itertools.product(*ranges):
                    wanted.setdefault(chunk, []).append((box, out))
        by_shard: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
        for chunk in wanted:
            by_shard.setdefault(tuple(i // p for i, p in zip(chunk, self._per_shard)), []).append(chunk)
        jobs = [
            (chunk, data, wanted[chunk])
            for shard, chunks in by_shard.items()
            for chunk, data in self._fetch(shard, chunks)
        ]
        nbytes = sum(out.nbytes for _, out in targets)
        workers = min(len(jobs), WORKERS) if nbytes >= PARALLEL_BYTES else 1
        # the caller and the helpers pull chunks from one shared iterator (next() on a list iterator
        # is atomic under the GIL), so a helper that is scheduled late just finds less to do
        pending = iter(jobs)
        futures = [decode_pool().submit(self._drain, pending) for _ in range(workers - 1)]
        self._drain(pending)
        for future in futures:
            if not future.cancel():
                future.result()

    def _drain(self, pending: Iterator[Job]) -> None:
        for chunk, data, places in pending:
            self._place(chunk, data, places)

    def _fetch(self, shard: tuple[int, ...], chunks: list[tuple[int, ...]]) -> list[Fetched]:
        """Raw bytes of ``chunks`` in one shard (None for empty chunks), coalescing nearby ones."""
        if not self.sharded:
            return [(chunk, _read_file(self._file(chunk))) for chunk in chunks]
        index = self._index(shard)
        if index is None:
            return [(chunk, None) for chunk in chunks]
        spans = []
        for chunk in chunks:
            local = tuple(i % p for i, p in zip(chunk, self._per_shard))
            offset, nbytes = index[local]
            spans.append((chunk, None if offset == MISSING else (int(offset), int(nbytes))))
        present = [s for _, s in spans if s is not None]
        if not present:
            return [(chunk, None) for chunk, _ in spans]
        start = min(o for o, _ in present)
        stop = max(o + n for o, n in present)
        needed = sum(n for _, n in present)
        path = self._file(shard)
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if stop > size:  # a damaged index: refuse before allocating what it claims
                raise CorruptImageError(f"{path}: the shard index points {stop - size:,} bytes past the file's end")
            if stop - start <= 2 * needed + 65536:
                blob = memoryview(os.pread(fd, stop - start, start))
                return [(c, None if s is None else blob[s[0] - start : s[0] - start + s[1]]) for c, s in spans]
            return [(c, None if s is None else os.pread(fd, s[1], s[0])) for c, s in spans]
        finally:
            os.close(fd)

    def _place(self, chunk: tuple[int, ...], data: bytes | memoryview | None, places: list[Place]) -> None:
        """Decode one chunk once and copy its overlap with each (box, out) into that out."""
        origin = [i * c for i, c in zip(chunk, self.chunks)]
        cuts = []
        for box, out in places:
            src, dst = [], []
            for o, c, (a, b), n in zip(origin, self.chunks, box, self.shape):
                lo, hi = max(a, o), min(b, o + c, n)
                src.append(slice(lo - o, hi - o))
                dst.append(slice(lo - a, hi - a))
            cuts.append((tuple(src), out[tuple(dst)]))
        first, target = cuts[0]
        if data is None:
            for _, part in cuts:
                part[...] = self.fill_value
            return
        whole = len(cuts) == 1 and all(s.stop - s.start == c for s, c in zip(first, self.chunks))
        try:
            if whole and target.flags.c_contiguous:  # decode straight into the output, no copy
                self._decode(data, target.reshape(-1).view(np.uint8))
                return
            scratch = getattr(_SCRATCH, "buffer", None)
            if scratch is None or scratch.nbytes != self._chunk_nbytes:
                scratch = _SCRATCH.buffer = np.empty(self._chunk_nbytes, np.uint8)
            self._decode(data, scratch)
            decoded = scratch.view(self.dtype).reshape(self.chunks)
        except (ValueError, RuntimeError) as exc:
            raise CorruptImageError(f"{self.path}: chunk {chunk} does not decode: {exc}") from exc
        for cut, part in cuts:
            part[...] = decoded[cut]


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class CopyableChunkReader(ChunkReader):
    """A ChunkReader of unsharded blosc chunks, which also hands out each chunk's stored bytes."""

    def stored_chunk(self, index: tuple[int, ...]) -> bytes | None:
        return _read_file(self._file(index))
