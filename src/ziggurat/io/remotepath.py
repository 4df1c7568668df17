"""A ``pathlib``-like view of an object-store prefix, for metadata-driven formats (OME-Zarr, Zarr).

``RemotePath / "zarr.json"``, ``read_text()``, ``is_file()``, ``is_dir()``: what a format reading
small JSON documents beside its data asks of a folder. Small reads are shared for a few seconds
(probe then open read the same ``zarr.json`` once). It has no ``__fspath__``: nothing mistakes it
for a local path.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ImageNotFoundError
from .locations import Location, is_url, parse
from .opening import recent
from .remote import store_for

#: a key is a "folder" when one of these objects lies under it
FOLDER_MARKERS = ("zarr.json", ".zattrs", ".zarray", ".zgroup", "attributes.json")


class RemotePath:
    """A key prefix in a bucket or on a web server."""

    def __init__(self, location: Location | str) -> None:
        self.location = location if isinstance(location, Location) else parse(location)

    def __truediv__(self, name: str) -> RemotePath:
        return RemotePath(self.location.child(name))

    def joinpath(self, *names: str) -> RemotePath:
        path = self
        for name in names:
            path = path / name
        return path

    def read_bytes(self) -> bytes:
        """The object's bytes (FileNotFoundError, typed ImageNotFoundError, when it is missing).
        Metadata documents are shared with the probe's read; data (chunks) is always fetched, so a
        replaced object is never read stale."""
        key = self.location.key
        if key.rsplit("/", 1)[-1] not in FOLDER_MARKERS:
            return store_for(self.location).get(key)
        return recent("bytes", self.location.url, lambda: store_for(self.location).get(key))

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def is_file(self) -> bool:
        try:
            self.read_bytes()
        except ImageNotFoundError:
            return False
        return True

    def is_dir(self) -> bool:
        return any((self / marker).is_file() for marker in FOLDER_MARKERS)

    def __str__(self) -> str:
        return self.location.url

    def __repr__(self) -> str:
        return f"RemotePath({self.location.url!r})"


def prefetch(paths: list[Path] | list[RemotePath] | list[Path | RemotePath]) -> None:
    """Fetch the small remote objects at ``paths`` in parallel, for the reads that follow (one round
    trip for every level's ``zarr.json``, not one each); local paths are left alone."""
    remote = [p for p in paths if isinstance(p, RemotePath)]
    if len(remote) > 1:
        with ThreadPoolExecutor(min(16, len(remote))) as pool:
            list(pool.map(lambda p: p.is_file(), remote))


def as_path(path: str | os.PathLike[str] | RemotePath) -> Path | RemotePath:
    """A ``pathlib.Path`` for a local path, a RemotePath for a URL."""
    if isinstance(path, RemotePath):
        return path
    return RemotePath(os.fspath(path)) if is_url(path) else Path(path)


def is_dir(path: str | os.PathLike[str] | RemotePath) -> bool:
    """``os.path.isdir`` that also answers for a URL (a prefix holding Zarr/N5 metadata)."""
    target = as_path(path)
    return target.is_dir() if isinstance(target, RemotePath) else os.path.isdir(target)


def object_version(url: str) -> str:
    """The version of the object at ``url``, or of a prefix's Zarr/N5 metadata (rewritten last when a
    store is replaced): ETag (or last-modified) and size, from one HEAD per key tried."""
    location = parse(url)
    store = store_for(location)
    for key in [location.key] * bool(location.key) + [location.child(m).key for m in FOLDER_MARKERS]:
        try:
            return f"{key}|{store.version(key)}"
        except ImageNotFoundError:
            continue
    raise ImageNotFoundError(f"{url}: no such object")
