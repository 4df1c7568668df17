"""The direct Zarr v3 chunk path on object storage: one suffix read per shard index, then one round
of parallel range GETs for the chunks a box touches in each shard.

zarr-python fetches the chunks inside a shard one after another (each a round trip); this reader
keeps :class:`~ziggurat.sources.zarrchunks.ChunkReader`'s planning and decoding and replaces only
where the bytes come from: a :class:`~ziggurat.io.remotefile.RemoteFile` per shard object.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import CorruptImageError, ImageNotFoundError
from ..io.remotefile import RemoteFile
from ..io.remotepath import RemotePath
from .zarrchunks import MISSING, ChunkReader, Fetched


class RemoteChunkReader(ChunkReader):
    """Reads any box of a Zarr v3 array under an ``s3://`` or ``http(s)://`` prefix."""

    def __init__(self, path: RemotePath) -> None:
        super().__init__(path)
        self._shards: dict[tuple[int, ...], RemoteFile | None] = {}
        self._shards_lock = threading.Lock()

    def _shard(self, shard: tuple[int, ...]) -> RemoteFile | None:
        """The shard's object, opened by one suffix GET of its index (None when absent)."""
        with self._shards_lock:
            if shard in self._shards:
                return self._shards[shard]
        index_bytes = 16 * int(np.prod(self._per_shard)) + (4 if self._index_crc else 0)
        location = self._file(shard).location  # type: ignore[attr-defined]
        try:
            file: RemoteFile | None = RemoteFile(location, head_bytes=0, tail_bytes=index_bytes)
        except ImageNotFoundError:
            file = None
        with self._shards_lock:
            self._shards[shard] = file
        return file

    def _index(self, shard: tuple[int, ...]) -> np.ndarray | None:
        if shard in self._indexes:
            return self._indexes[shard]
        file = self._shard(shard)
        index = None
        if file is not None:
            n = int(np.prod(self._per_shard))
            size = 16 * n + (4 if self._index_crc else 0)
            if file.size < size:
                raise CorruptImageError(f"{file.path}: shard shorter than its index")
            raw = file.read(file.size - size if self._index_at_end else 0, size)
            index = np.frombuffer(raw[: 16 * n], dtype="<u8").reshape(*self._per_shard, 2)
        with self._lock:
            self._indexes[shard] = index
        return index

    def _fetch(self, shard: tuple[int, ...], chunks: list[tuple[int, ...]]) -> list[Fetched]:
        if not self.sharded:  # one object per chunk: fetched in parallel
            with ThreadPoolExecutor(min(16, len(chunks))) as pool:
                return list(zip(chunks, pool.map(self._whole, chunks)))
        index = self._index(shard)
        file = self._shard(shard)
        if index is None or file is None:
            return [(chunk, None) for chunk in chunks]
        spans = [index[tuple(i % p for i, p in zip(chunk, self._per_shard))] for chunk in chunks]
        present = [(int(o), int(n)) for o, n in spans if o != MISSING]
        blobs = iter(file.read_ranges(present))
        return [(chunk, None if o == MISSING else next(blobs)) for chunk, (o, _) in zip(chunks, spans)]

    def _whole(self, chunk: tuple[int, ...]) -> bytes | None:
        try:
            return self._file(chunk).read_bytes()
        except ImageNotFoundError:
            return None
