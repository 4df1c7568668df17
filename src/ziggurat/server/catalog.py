"""The served images: a rescanned view of files under the roots, addressed by stable ids.

Volumes (NIfTI files, OME-Zarr stores) are served too: the catalog opens them as Images and
hands out each requested plane as a 2-D Image (a small LRU), so the same tile routes serve both.
An id is a hash of the image's name (its path relative to its root, prefixed with the root's label:
its base name, or as many trailing folders as tell it apart from the other roots), so it survives
restarts and never exposes or accepts a filesystem path; a root given twice or inside another is
refused at start-up (its images would be listed twice). Folders are
rescanned when a listing is older than ``rescan_seconds`` or an unknown id is asked for, so new
files appear without a restart; a file that disappeared answers "not found". Symlinks are
followed only when their target stays inside a served root. A cohort folder (``cohort.json``) is
listed through its images table (:mod:`.cohorts`): one entry per image, named
``<cohort folder's name>/<image id in the cohort>``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..cache.lru import LRU
from ..errors import ImageNotFoundError, ZigguratError
from ..io.listing import list_images
from ..io.locations import is_url
from ..model.display import display_plane
from ..model.image import Image, open_image
from ..model.planes import plane
from ..sources.registry import detect
from .cohorts import CohortImage, Cohorts, is_cohort

MAX_PLANES = 32


@dataclass(frozen=True)
class Entry:
    """One served image: its id, display name and resolved path, with the file's version."""

    id: str
    name: str
    path: Path | str  # a str is an s3:// or http(s):// URL
    version: str  # changes whenever the file does: "<mtime_ns>-<size>" (an object's ETag and size)
    cohort: CohortImage | None = None  # set for an image of a served cohort


def image_id(name: str) -> str:
    """The stable id of an image called ``name`` (16 hex digits of its SHA-256)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def root_labels(roots: Sequence[Path]) -> list[str]:
    """Each root's label: its base name, or as many trailing parts as make it unique among ``roots``.

    ZigguratError for a root given twice or lying inside another root folder (ambiguous names).
    """
    for i, a in enumerate(roots):
        for b in roots[i + 1 :]:
            if a == b:
                raise ZigguratError(f"{a}: given twice; serve each folder once")
            for inner, outer in ((a, b), (b, a)):
                if outer.is_dir() and inner.is_relative_to(outer):
                    raise ZigguratError(f"{inner} lies inside {outer}, which is served too; serve one of them")
    labels = []
    for root in roots:
        parts = root.parts[1:] or (root.anchor,)
        n = 1
        while n < len(parts) and any(o != root and o.parts[1:][-n:] == parts[-n:] for o in roots):
            n += 1
        labels.append("/".join(parts[-n:]))
    return labels


def _version(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_mtime_ns}-{st.st_size}"


class Catalog:
    """Images under ``roots`` (files or folders), with a bounded set of them kept open."""

    def __init__(
        self, roots: Sequence[str | os.PathLike[str]], *, rescan_seconds: float = 2.0, max_open: int = 64
    ) -> None:
        self.remote_roots = [os.fspath(r) for r in roots if is_url(r)]  # listed with io.listing
        self.roots = [Path(r).resolve() for r in roots if not is_url(r)]
        for root in self.roots:
            if not root.exists():
                raise ImageNotFoundError(f"{root}: no such file or folder to serve")
        self.labels = dict(zip(self.roots, root_labels(self.roots)))
        self.rescan_seconds = rescan_seconds
        self.max_open = max_open
        self._entries: dict[str, Entry] = {}
        self._scanned = -float("inf")
        # count-bounded LRUs; an evicted Image is closed by GC once no request still reads it
        self._open: LRU[str, tuple[str, Image]] = LRU(max_open, sizeof=lambda v: 1)
        self._planes: LRU[tuple[str, str, str | None, int, int, str], Image] = LRU(MAX_PLANES, sizeof=lambda v: 1)
        self._rejected: dict[Path | str, str] = {}  # files that failed to open, by version
        # what the registry said of each path at its version: this scan's, and the last scan's
        self._kinds: dict[Path, tuple[str | None, str | None]] = {}
        self._last_kinds: dict[Path, tuple[str | None, str | None]] = {}
        self.cohorts = Cohorts()
        self.cohort_folders: dict[str, Path] = {}  # a served cohort's id -> its folder

    # -- scanning -------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """Every servable image, sorted by name (rescanned when the listing is stale)."""
        if time.monotonic() - self._scanned > self.rescan_seconds:
            self.rescan()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def rescan(self) -> None:
        """Walk the roots again; keep files that are images and resolve inside a root."""
        found: dict[str, Entry] = {}
        self._last_kinds, self._kinds = self._kinds, {}  # paths gone from disk are forgotten
        self.cohort_folders = {}
        for root in self.roots:
            for name, path, cohort in self._walk(root):
                version = _version(path)
                if version is None or self._rejected.get(path) == version:
                    continue
                entry = Entry(image_id(name), name, path, version, cohort)
                found[entry.id] = entry
        for url in self.remote_roots:
            for name, key, version in list_images(url):
                if self._rejected.get(key) != version:
                    found[image_id(name)] = Entry(image_id(name), name, key, version)
        self._entries = found
        self._scanned = time.monotonic()

    def _walk(self, root: Path) -> list[tuple[str, Path, CohortImage | None]]:
        if root.is_file():
            return [(self.labels[root], root, None)] if self._inside(root) else []
        out: list[tuple[str, Path, CohortImage | None]] = []
        for folder, dirs, files in os.walk(root):  # never descends into symlinked folders
            if is_cohort(Path(folder)):  # listed by its tables; its .zarr stores are not separate images
                dirs[:] = []
                out += self._cohort(root, Path(folder))
                continue
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            # a folder the registry reads as one image (an OME-Zarr store, a DICOM series, a folder
            # of slices, a Zarr array) is listed whole and not descended into
            whole = [d for d in dirs if self._is_image(Path(folder, d))]
            dirs[:] = [d for d in dirs if d not in whole]
            files = [f for f in sorted(files) if not f.startswith(".") and self._is_image(Path(folder, f))]
            for fname in files + whole:
                link = Path(folder, fname)
                path = link.resolve()
                if self._inside(path):
                    out.append((f"{self.labels[root]}/{link.relative_to(root).as_posix()}", path, None))
        return out

    def _cohort(self, root: Path, folder: Path) -> list[tuple[str, Path, CohortImage | None]]:
        """The images of the cohort at ``folder`` (none if its tables do not open)."""
        name = "/".join([self.labels[root], *folder.relative_to(root).parts])
        cohort_id = image_id(name)
        try:
            images = self.cohorts.images(folder, cohort_id)
        except (ZigguratError, OSError):  # unreadable, or replaced while we looked
            return []
        self.cohort_folders[cohort_id] = folder
        return [(f"{name}/{image}", path, facts) for image, path, facts in images]

    def _is_image(self, path: Path) -> bool:
        """Whether a backend claims ``path`` (the registry's probes; remembered per file version)."""
        version = _version(path)
        known = self._last_kinds.get(path)
        if known is None or known[0] != version:
            known = (version, detect(path))
        self._kinds[path] = known
        return known[1] is not None

    def _inside(self, path: Path) -> bool:
        """Whether resolved ``path`` is a served root file or lies under a served root folder."""
        return any(path == r or (r.is_dir() and path.is_relative_to(r)) for r in self.roots)

    # -- lookup ---------------------------------------------------------------------------
    def known(self, id: str) -> Entry | None:
        """The entry for ``id`` if the last scan saw it, checked with one stat (no walk: safe on an
        event loop); None if unseen; ImageNotFoundError if its file is gone."""
        entry = self._entries.get(id)
        return None if entry is None else self._current(entry)

    def get(self, id: str) -> Entry:
        """The entry for ``id``, rescanning once if unknown; ImageNotFoundError if none or gone."""
        entry = self._entries.get(id)
        if entry is None and time.monotonic() - self._scanned > min(self.rescan_seconds, 0.25):
            self.rescan()
            entry = self._entries.get(id)
        if entry is None:
            raise ImageNotFoundError(f"no image with id {id!r}")
        return self._current(entry)

    def _current(self, entry: Entry) -> Entry:
        """``entry`` with its file's version now; forgotten (ImageNotFoundError) if the file is gone."""
        if isinstance(entry.path, str):  # an object: its version is the last listing's
            return entry
        version = _version(entry.path)
        if version is None:
            self._entries.pop(entry.id, None)
            raise ImageNotFoundError(f"image {entry.id!r} is no longer there")
        if version != entry.version:
            entry = replace(entry, version=version)
            self._entries[entry.id] = entry
        return entry

    def opened(self, entry: Entry) -> Image | None:
        """The Image of ``entry`` if it is already open at this version (never blocks on I/O)."""
        held = self._open.get(entry.id)
        return held[1] if held is not None and held[0] == entry.version else None

    def open(self, entry: Entry) -> Image:
        """The open Image of ``entry``, reopened when the file changed; LRU-bounded."""
        held = self._open.get(entry.id)
        if held is not None and held[0] == entry.version:
            return held[1]
        try:
            image = open_image(entry.path)
        except ZigguratError:
            self._rejected[entry.path] = entry.version
            self._entries.pop(entry.id, None)
            raise
        self._open.put(entry.id, (entry.version, image))
        return image

    def plane(self, entry: Entry, volume: Image, axis: str | None, index: int, t: int = 0,
              view: str = "storage") -> Image:  # fmt: skip
        """Plane ``index`` along ``axis`` at time ``t`` of ``volume`` (any 2-D image with ``axis=None``)
        as a ``yxc`` Image — in storage order, or oriented for the screen (``view="radiological"`` or
        ``"neurological"``, :mod:`ziggurat.model.display`) — kept in a small LRU."""
        key = (entry.id, entry.version, axis, index, t, view)
        image = self._planes.get(key)
        if image is None:
            if axis is None or view == "storage":
                image = plane(volume, axis, index, t=t)
            else:
                image = display_plane(volume, axis, index, t=t, convention=view)
            self._planes.put(key, image)
        return image
