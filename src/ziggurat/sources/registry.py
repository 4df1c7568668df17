"""Find the backend for a path: every registered backend rates the path, the best one opens it.

Backends are entry points of the ``ziggurat.sources`` group, loaded lazily (a missing optional extra
costs nothing). ``detect`` answers without opening the image — the server's catalog lists folders
with it — and ``open_source`` opens with the best-rated backend that succeeds.
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
    UnsupportedCodecError,
    UnsupportedFormatError,
)
from .base import Source, SourceClass
from .guards import typed_errors

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


def ranked(path: str, head: bytes | None = None) -> Iterator[tuple[int, str, SourceClass]]:
    """The backends that claim ``path``, best first, probed lazily: backends are asked in order of
    their ``rank`` (the best score each can give), and a claim is handed out as soon as no backend
    left can outrank it, so opening a file usually asks a few backends, not all of them."""
    head = read_head(path) if head is None else head
    claims: list[tuple[int, str, SourceClass]] = []  # a heap of (-score, name, class)
    for rank, name, cls in _by_rank():
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


def open_source(path: str, backend: str | None = None, **options: Any) -> Source:
    """Open ``path`` with the named backend, or with the best-rated one that succeeds."""
    if backend is not None:
        read_head(path)
        cls = load_backend(backend)
        if cls is None:
            raise BackendUnavailableError(f"backend {backend!r} needs an optional extra: pip install 'ziggurat[all]'")
        inspect.signature(cls).bind(path, **options)  # an unknown option is the caller's TypeError
        with typed_errors(path):
            return cls(path, **options)
    first_error: Exception | None = None
    for _, _, cls in ranked(path):
        inspect.signature(cls).bind(path, **options)  # an unknown option is the caller's TypeError
        try:
            with typed_errors(path):  # a third-party exception from a damaged file becomes CorruptImageError
                return cls(path, **options)
        except (UnsupportedCodecError, UnsupportedFormatError, CorruptImageError) as exc:
            # a lower-ranked backend (openslide) may still read what the first one cannot
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    kind = "a folder ziggurat does not read" if os.path.isdir(path) else "not an image format ziggurat reads"
    raise UnsupportedFormatError(f"{path}: {kind}")
