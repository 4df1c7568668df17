"""Find the backend for a path: entry points rank themselves per file, the best one opens it."""

from __future__ import annotations

import functools
import os
from importlib import metadata

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
    """All registered backends by name (loaded lazily: a missing extra costs nothing)."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_backend(name: str) -> SourceClass | None:
    """The backend class, or None when its optional dependency is not installed."""
    try:
        entry = backends()[name]
    except KeyError:
        known = ", ".join(sorted(backends()))
        raise UnsupportedFormatError(f"unknown backend {name!r}; known: {known}") from None
    try:
        return entry.load()
    except ImportError:
        return None


def _read_head(path: str) -> bytes:
    if not os.path.exists(path):
        raise ImageNotFoundError(f"{path}: no such file or directory")
    if os.path.isdir(path):
        return b""
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise ImageNotFoundError(f"{path}: cannot read ({exc.strerror})") from exc


def open_source(path: str, backend: str | None = None, **options: object) -> Source:
    """Open ``path`` with the named backend, or with the best-rated one that succeeds."""
    head = _read_head(path)
    if backend is not None:
        cls = load_backend(backend)
        if cls is None:
            raise BackendUnavailableError(
                f"backend {backend!r} needs an optional extra: pip install 'ziggurat[{backend}]'"
            )
        return cls(path, **options)
    ranked = []
    for name in backends():
        cls = load_backend(name)
        score = cls.probe(path, head) if cls is not None else 0
        if score > 0:
            ranked.append((score, name, cls))
    if not ranked:
        kind = "a directory" if os.path.isdir(path) else "not an image format ziggurat reads"
        raise UnsupportedFormatError(f"{path}: {kind}")
    ranked.sort(key=lambda item: -item[0])
    first_error: Exception | None = None
    for _, _, cls in ranked:
        try:
            return cls(path, **options)
        except (UnsupportedCodecError, UnsupportedFormatError, CorruptImageError) as exc:
            # a lower-ranked backend (openslide) may still read what the first one cannot
            first_error = first_error or exc
    assert first_error is not None
    raise first_error
