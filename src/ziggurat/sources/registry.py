"""Find the backend for a path: every registered backend rates the path, the best one opens it.

Backends are entry points of the ``ziggurat.sources`` group, loaded lazily (a missing optional extra
costs nothing). ``detect`` answers without opening the image — the server's catalog lists folders
with it — and ``open_source`` opens with the best-rated backend that succeeds.
A URL (``s3://``, ``http(s)://``) is probed with its object's first bytes and offered only to the
backends that read object storage; nothing about it touches the local disk.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import os
from collections.abc import Iterator
from importlib import metadata
from typing import Any

from ..errors import (
    BackendUnavailableError,
    CorruptImageError,
    ImageNotFoundError,
    RemoteStorageError,
    UnsupportedCodecError,
    UnsupportedFormatError,
)
from ..io.locations import configure, is_url
from .base import Source, SourceClass
from .guards import typed_errors

ENTRY_POINT_GROUP = "ziggurat.sources"
HEAD_BYTES = 512
#: backends that read ``s3://`` and ``http(s)://`` objects (files, then prefixes holding Zarr metadata);
#: (a DICOM WSI series is an object or a prefix); the others (openslide, DICOM volumes, NIfTI, Pillow,
#: slice folders) are handed local files only
REMOTE_FILE_BACKENDS = ("tiff", "dicomwsi")
REMOTE_FOLDER_BACKENDS = ("omezarr", "zarr", "dicomwsi")
REMOTE_BACKENDS = tuple(dict.fromkeys(REMOTE_FILE_BACKENDS + REMOTE_FOLDER_BACKENDS))
FOLDER_SUFFIXES = (".zarr", ".ome.zarr", ".n5")
NEEDS_LOCAL = (
    "not a format ziggurat reads from object storage (TIFF, SVS, OME-TIFF, OME-Zarr, Zarr and DICOM WSI are); "
    "formats read through openslide, DICOM volumes, NIfTI and Pillow need a local file: download it first"
)


@functools.cache
def backends() -> dict[str, metadata.EntryPoint]:
    """All registered backends by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


@functools.cache
def load_backend(name: str) -> SourceClass | None:
    """The backend class, or None when its optional dependency is not installed."""
    try:
        entry = backends()[name]
    except KeyError:
        known = ", ".join(sorted(backends()))
        raise UnsupportedFormatError(f"unknown backend {name!r}; known: {known}") from None
    try:
        cls: SourceClass = entry.load()
    except ImportError:
        return None
    return cls


def read_head(path: str) -> bytes:
    """The first bytes of a file (empty for a folder); ImageNotFoundError when there is nothing."""
    if is_url(path):
        return _remote_head(path)
    if not os.path.exists(path):
        raise ImageNotFoundError(f"{path}: no such file or directory")
    if os.path.isdir(path):
        return b""
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise ImageNotFoundError(f"{path}: cannot read ({exc.strerror})") from exc


def _remote_head(url: str) -> bytes:
    """The first bytes of the object at ``url``, or empty when it is a prefix (a "folder": a Zarr/N5
    store, or a bucket prefix holding objects, such as a DICOM series' instances)."""
    from ..io.opening import open_file
    from ..io.remotepath import RemotePath

    if url.rstrip("/").endswith(FOLDER_SUFFIXES) and RemotePath(url).is_dir():  # skip the object GET
        return b""
    if url.endswith("/") and _holds_objects(url):  # a prefix: one LIST (shared with the backend), no GET
        return b""
    try:
        file = open_file(url)  # one GET: the speculative first range the backend then reuses
    except ImageNotFoundError:
        if _holds_objects(url) or RemotePath(url).is_dir():
            return b""
        raise
    return file.read(0, min(HEAD_BYTES, file.size))


def _holds_objects(url: str) -> bool:
    """Whether objects lie directly under the ``s3://`` prefix ``url`` (a web server cannot be listed)."""
    from ..io.listing import objects_in
    from ..io.locations import parse

    try:
        return parse(url).scheme == "s3" and bool(objects_in(url))
    except RemoteStorageError:  # listing refused (no List permission): not known to be a prefix
        return False


def ranked(path: str, head: bytes | None = None) -> Iterator[tuple[int, str, SourceClass]]:
    """The backends that claim ``path``, best first, probed lazily: backends are asked in order of
    their ``rank`` (the best score each can give), and a claim is handed out as soon as no backend
    left can outrank it, so opening a file usually asks a few backends, not all of them."""
    head = read_head(path) if head is None else head
    offered = (REMOTE_FILE_BACKENDS if head else REMOTE_FOLDER_BACKENDS) if is_url(path) else None
    claims: list[tuple[int, str, SourceClass]] = []  # a heap of (-score, name, class)
    for rank, name, cls in _by_rank():
        if offered is not None and name not in offered:
            continue
        while claims and -claims[0][0] >= rank:
            score, claimed, best = heapq.heappop(claims)
            yield -score, claimed, best
        try:
            score = cls.probe(path, head)
        except Exception:  # a probe that trips over a damaged file does not claim it (nor break detection)
            score = 0
        if score > 0:
            heapq.heappush(claims, (-score, name, cls))
    while claims:
        score, claimed, best = heapq.heappop(claims)
        yield -score, claimed, best


@functools.cache
def _by_rank() -> list[tuple[int, str, SourceClass]]:
    """The installed backends, highest rank first (ties by name)."""
    loaded = [(name, load_backend(name)) for name in backends()]
    return sorted(((cls.rank, name, cls) for name, cls in loaded if cls is not None), key=lambda c: (-c[0], c[1]))


def detect(path: str | os.PathLike[str]) -> str | None:
    """The name of the backend that would open ``path``, or None when none claims it (no decode)."""
    try:
        return next((name for _, name, _ in ranked(os.fspath(path))), None)
    except ImageNotFoundError:
        return None


_SIGNATURES: dict[object, inspect.Signature] = {}


def _signature(cls: SourceClass) -> inspect.Signature:
    """A backend's constructor signature (computed once: ``inspect.signature`` costs ~0.1 ms an open)."""
    signature = _SIGNATURES.get(cls)
    if signature is None:
        signature = _SIGNATURES[cls] = inspect.signature(cls)
    return signature


def open_source(path: str, backend: str | None = None, **options: Any) -> Source:
    """Open ``path`` with the named backend, or with the best-rated one that succeeds.

    ``storage_options`` (endpoint, region, keys, profile) apply to a URL's bucket or server."""
    storage_options = options.pop("storage_options", None)
    if is_url(path):
        configure(path, storage_options)
        if backend is not None and backend not in REMOTE_BACKENDS:
            raise UnsupportedFormatError(f"{path}: the {backend} backend reads local files only; download it first")
    if backend is not None:
        read_head(path)
        cls = load_backend(backend)
        if cls is None:
            raise BackendUnavailableError(f"backend {backend!r} needs an optional extra: pip install 'ziggurat[all]'")
        _signature(cls).bind(path, **options)  # an unknown option is the caller's TypeError
        with typed_errors(path):
            return cls(path, **options)
    first_error: Exception | None = None
    for _, _, cls in ranked(path):
        _signature(cls).bind(path, **options)  # an unknown option is the caller's TypeError
        try:
            with typed_errors(path):  # a third-party exception from a damaged file becomes CorruptImageError
                return cls(path, **options)
        except (UnsupportedCodecError, UnsupportedFormatError, CorruptImageError) as exc:
            # a lower-ranked backend (openslide) may still read what the first one cannot
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    if is_url(path):
        raise UnsupportedFormatError(f"{path}: {NEEDS_LOCAL}")
    kind = "a folder ziggurat does not read" if os.path.isdir(path) else "not an image format ziggurat reads"
    raise UnsupportedFormatError(f"{path}: {kind}")


def claims(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """Every installed backend's probe score for ``path`` that is above 0, best first: the ranking
    ``open_source`` tries in order (``ziggurat info`` prints it to say why a backend was chosen)."""
    path = os.fspath(path)
    head = read_head(path)
    scored = ((name, cls.probe(path, head)) for _, name, cls in _by_rank())
    return sorted(((name, score) for name, score in scored if score > 0), key=lambda c: (-c[1], c[0]))
