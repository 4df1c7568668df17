"""Publish a local folder (a finished OME-Zarr store) under an object-store prefix, metadata last.

Data objects go up first, in parallel (obstore sends large ones as multipart uploads and aborts
them on failure), then every nested ``zarr.json``, and the top-level ``zarr.json`` — what makes a
store look complete to a reader — goes last. An old store at the prefix first loses its top-level
metadata and, once the new one is up, the objects the new one does not have; a failed upload leaves
no top-level metadata, so a half-written store never looks finished.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ImageNotFoundError, RemoteStorageError
from .locations import Location, parse
from .remote import store_for

UPLOADS = 8  # objects in flight (each large one is itself sent as parallel parts)
TOP = "zarr.json"


def upload_tree(local: str | os.PathLike[str], url: str | Location, *, overwrite: bool = True) -> None:
    """Upload every file under ``local`` to ``url/<relative path>``; ``url/zarr.json`` last."""
    root = url if isinstance(url, Location) else parse(url)
    base = Path(local)
    top = base / TOP
    if not top.is_file():
        raise ImageNotFoundError(f"{top}: the store to upload has no top-level zarr.json")
    store = store_for(root)
    prefix = root.key.strip("/")
    top_key = root.child(TOP).key
    if store.exists(top_key):
        if not overwrite:
            raise RemoteStorageError(f"{root.child(TOP).url} exists (overwrite=False)")
        store.delete([top_key])
    old = {key for key, _ in store.walk(prefix + "/")} if prefix else set()
    files = sorted(p for p in base.rglob("*") if p.is_file())
    keys = {p: root.child(p.relative_to(base).as_posix()).key for p in files}
    data = [p for p in files if p.name != TOP]
    metadata = sorted((p for p in files if p.name == TOP and keys[p] != top_key), key=lambda p: -len(p.parts))
    with ThreadPoolExecutor(UPLOADS, thread_name_prefix="zig-upload") as pool:
        for batch in (data, metadata):
            list(pool.map(lambda p: store.put(keys[p], p), batch))
    stale = sorted(old - set(keys.values()))
    if stale:
        store.delete(stale)
    store.put(top_key, top)
