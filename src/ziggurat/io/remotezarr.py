"""zarr-python's ObjectStore on ziggurat's per-process obstore client, for Zarr stores at a URL.

zarr-python resets its own event loop after a fork; this store does the same for the obstore
client (it asks :class:`~ziggurat.io.remote.Store` for it on every call), so a zarr array opened
before a DataLoader forks reads correctly in every worker. Pickled, it carries the store's URL.
"""

from __future__ import annotations

from typing import Any

from zarr.storage import ObjectStore

from .locations import Location
from .remote import Store, store_for


class ProcessObjectStore(ObjectStore[Any]):
    """A zarr store whose obstore client is made in each process on first use."""

    def __init__(self, remote: Store, *, read_only: bool = True) -> None:
        self._remote = remote
        super().__init__(remote.client(), read_only=read_only)

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
