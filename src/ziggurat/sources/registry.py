"""Find the backend for a path: every registered backend rates the path, the best one opens it.

Backends are entry points of the ``ziggurat.sources`` group, loaded lazily (a missing optional extra
costs nothing). ``detect`` answers without opening the image — the server's catalog lists folders
with it — and ``open_source`` opens with the best-rated backend that succeeds.
"""

from __future__ import annotations

import functools
import os
from importlib import metadata
from typing import Any

from ..errors import (
    BackendUnavailableError,
    CorruptImageError,
    ImageNotFoundError,
    UnsupportedCodecError,
    UnsupportedFormatError,
)
from .base import Source, SourceClass

ENTRY_POINT_GROUP = "ziggurat.sources"
HEAD_BYTES = 512


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
    if not os.path.exists(path):
        raise ImageNotFoundError(f"{path}: no such file or directory")
    if os.path.isdir(path):
        return b""
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise ImageNotFoundError(f"{path}: cannot read ({exc.strerror})") from exc


def ranked(path: str, head: bytes | None = None) -> list[tuple[int, str, SourceClass]]:
    """The backends that claim ``path``, best first."""
    head = read_head(path) if head is None else head
    claims: list[tuple[int, str, SourceClass]] = []
    for name in backends():
        cls = load_backend(name)
        score = cls.probe(path, head) if cls is not None else 0
        if cls is not None and score > 0:
            claims.append((score, name, cls))
    claims.sort(key=lambda item: (-item[0], item[1]))
    return claims


def detect(path: str | os.PathLike[str]) -> str | None:
    """The name of the backend that would open ``path``, or None when none claims it (no decode)."""
    try:
        claims = ranked(os.fspath(path))
    except ImageNotFoundError:
        return None
    return claims[0][1] if claims else None


def open_source(path: str, backend: str | None = None, **options: Any) -> Source:
    """Open ``path`` with the named backend, or with the best-rated one that succeeds."""
    if backend is not None:
        read_head(path)
        cls = load_backend(backend)
        if cls is None:
            raise BackendUnavailableError(f"backend {backend!r} needs an optional extra: pip install 'ziggurat[all]'")
        return cls(path, **options)
    claims = ranked(path)
    if not claims:
        kind = "a folder ziggurat does not read" if os.path.isdir(path) else "not an image format ziggurat reads"
        raise UnsupportedFormatError(f"{path}: {kind}")
    first_error: Exception | None = None
    for _, _, cls in claims:
        try:
            return cls(path, **options)
        except (UnsupportedCodecError, UnsupportedFormatError, CorruptImageError) as exc:
            # a lower-ranked backend (openslide) may still read what the first one cannot
            first_error = first_error or exc
    assert first_error is not None
    raise first_error
