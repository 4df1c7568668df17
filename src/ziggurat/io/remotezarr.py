"""zarr-python's ObjectStore on ziggurat's per-process obstore client, for Zarr stores at a URL.

zarr-python resets its own event loop after a fork; this store does the same for the obstore
client (it asks :class:`~ziggurat.io.remote.Store` for it on every call), so a zarr array opened
before a DataLoader forks reads correctly in every worker. Pickled, it carries the store's URL.
Shard indexes (small suffix reads) are kept in a byte-bounded cache: a patch then costs only the
range requests of the chunks it touches, not one more round trip per shard.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from zarr.abc.store import ByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import ObjectStore

from ..errors import ImageNotFoundError
from .locations import Location
from .remote import Store, store_for
from .remotepath import RemotePath

METADATA = ("zarr.json", ".zarray", ".zattrs", ".zgroup")
INDEX_BYTES = 64 * 1024  # suffix reads up to this size are shard indexes worth keeping
INDEX_CACHE_BYTES = 16 << 20


class ProcessObjectStore(ObjectStore[Any]):
    """A zarr store whose obstore client is made in each process on first use."""

    def __init__(self, remote: Store, *, read_only: bool = True) -> None:
        self._remote = remote
        self._indexes: OrderedDict[tuple[str, int], Buffer] = OrderedDict()
        self._indexed = 0
        self._lock = threading.Lock()
        super().__init__(remote.client(), read_only=read_only)

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        if byte_range is None and key.rsplit("/", 1)[-1] in METADATA:  # shared with the probe's reads
            try:
                return prototype.buffer.from_bytes(RemotePath(self._remote.root.child(key)).read_bytes())
            except ImageNotFoundError:
                return None
        if not (self.read_only and isinstance(byte_range, SuffixByteRequest) and byte_range.suffix <= INDEX_BYTES):
            return await super().get(key, prototype, byte_range)
        with self._lock:
            hit = self._indexes.get((key, byte_range.suffix))
        if hit is not None:
            return hit
        found = await super().get(key, prototype, byte_range)
        if found is not None:
            with self._lock:
                self._indexes[(key, byte_range.suffix)] = found
                self._indexed += len(found)
                while self._indexed > INDEX_CACHE_BYTES:
                    self._indexed -= len(self._indexes.popitem(last=False)[1])
        return found

    @property
    def store(self) -> Any:
        return self._remote.client()

    @store.setter
    def store(self, value: Any) -> None:
        pass  # the client is always this process's own

    def with_read_only(self, read_only: bool = False) -> ProcessObjectStore:
        return ProcessObjectStore(self._remote, read_only=read_only)

    def __getstate__(self) -> dict[Any, Any]:
        return {"remote": self._remote, "read_only": self.read_only}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        ProcessObjectStore.__init__(self, state["remote"], read_only=state["read_only"])


def zarr_store(location: Location, *, read_only: bool = True) -> ProcessObjectStore:
    """The zarr store of the bucket or server holding ``location`` (open arrays with ``path=location.key``)."""
    return ProcessObjectStore(store_for(location), read_only=read_only)
