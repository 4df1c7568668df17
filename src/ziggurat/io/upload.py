"""Publish a finished local output (an OME-Zarr store, a DeepZoom tree, thumbnails) under an
object-store prefix, with the object that marks it complete uploaded last.

Writers build on local disk (bounded memory; disk = the output's size) in :func:`staged`, then
:func:`publish`: the old marker is deleted first, data objects go up in parallel (obstore sends
large ones as multipart uploads and aborts them on failure), then nested metadata, then the
objects of an old output the new one lacks are deleted, and the marker — ``zarr.json`` of a store,
``OUT.dzi`` of a DeepZoom tree — goes last. A failed upload leaves no marker, so a half-written
output never looks finished.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ..errors import ImageNotFoundError, RemoteStorageError
from .locations import Location, is_url, parse
from .opening import forget
from .remote import store_for

UPLOADS = 8  # objects in flight (each large one is itself sent as parallel parts)
TOP = "zarr.json"


@contextmanager
def staged(out: str | os.PathLike[str], default: str) -> Iterator[tuple[Path, Location | None]]:
    """``(local path, None)`` for a local ``out``; for a URL, a path of the same name (``default``
    for a bucket root) in a temporary folder, removed afterwards, and the Location to publish to."""
    if not is_url(out):
        yield Path(out), None
        return
    remote = parse(out)
    stage = tempfile.mkdtemp(prefix="ziggurat-upload-")
    try:
        yield Path(stage, PurePosixPath(remote.key.rstrip("/")).name or default), remote
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def occupied(url: str | Location) -> bool:
    """An object at ``url``, or any object under ``url/`` (what an existing output looks like)."""
    root = url if isinstance(url, Location) else parse(url)
    store = store_for(root)
    key = root.key.rstrip("/")
    return bool(key) and (store.exists(key) or next(store.walk(key + "/"), None) is not None)


def upload_tree(local: str | os.PathLike[str], url: str | Location, *, overwrite: bool = True,
                last: str = TOP) -> None:  # fmt: skip
    """Upload every file under ``local`` to ``url/<relative path>``: nested ``zarr.json`` after the
    data, ``url/<last>`` (the top-level ``zarr.json`` of a store) after everything."""
    root = url if isinstance(url, Location) else parse(url)
    base = Path(local)
    files = sorted(p for p in base.rglob("*") if p.is_file())
    keys = {p: root.child(p.relative_to(base).as_posix()).key for p in files}
    data = [p for p in files if p.name != TOP and p != base / last]
    metadata = sorted((p for p in files if p.name == TOP and p != base / last), key=lambda p: -len(p.parts))
    batches = [[(keys[p], p) for p in batch] for batch in (data, metadata)]
    publish(root, batches, (root.child(last).key, base / last), root.key.strip("/"), overwrite=overwrite)


def upload_dzi(dzi: Path, files: Path, url: str | Location, *, overwrite: bool = True) -> None:
    """Upload a DeepZoom tree: ``OUT_files/`` beside ``url`` (``…/OUT.dzi``), then ``OUT.dzi``."""
    marker = url if isinstance(url, Location) else parse(url)
    folder = marker.key[: -len(".dzi")] + "_files"
    tiles = [(f"{folder}/{p.relative_to(files).as_posix()}", p) for p in sorted(files.rglob("*")) if p.is_file()]
    publish(marker, [tiles], (marker.key, dzi), folder, overwrite=overwrite)


def publish(root: Location, batches: Sequence[Sequence[tuple[str, Path]]], marker: tuple[str, Path],
            scope: str, *, overwrite: bool) -> None:  # fmt: skip
    """Put ``(key, file)`` batches one after another (each in parallel) in the store of ``root``,
    replacing the old objects under ``scope/``, and ``marker`` last (deleted first if it exists)."""
    marker_key, marker_file = marker
    if not marker_file.is_file():
        raise ImageNotFoundError(f"{marker_file}: the output to upload is incomplete")
    store = store_for(root)
    if store.exists(marker_key):
        if not overwrite:
            raise RemoteStorageError(f"{store.url(marker_key)} exists (overwrite=False)")
        store.delete([marker_key])
    old = {key for key, _ in store.walk(scope + "/")} if scope else set()
    with ThreadPoolExecutor(UPLOADS, thread_name_prefix="zig-upload") as pool:
        for batch in batches:
            list(pool.map(lambda item: store.put(*item), batch))
    stale = sorted(old - {key for batch in batches for key, _ in batch} - {marker_key})
    if stale:
        store.delete(stale)
    store.put(marker_key, marker_file)
    forget()  # this process's next open reads the new output, not bytes shared from an earlier probe
