"""Image: the one model every feature reads pixels through — slides, stacks, volumes and EM arrays.

An :class:`Image` is a pyramid of :class:`~ziggurat.model.level.Level` objects, finest first, each a
lazy N-D array with the axes of ``image.axes`` (``yxc`` for a slide; ``zyx``, ``czyx``, ``tzyx``,
``tczyx`` for stacks and volumes), plus metadata: per-axis scale and units, a world affine, channel
names and colours, properties and associated images. The openslide-style API
(:class:`~ziggurat.model.slide.SlideView`) and the volume API
(:class:`~ziggurat.model.volume.VolumeView`) are views on it, available where the axes allow.

An Image pickles as "how to reopen me" (path, backend and options; in-memory images with their
arrays), so it crosses process boundaries (fork, spawn, Dask) without carrying file handles.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..io.locations import is_url
from ..io.remotepath import object_version
from ..sources.base import Metadata, Source, SupportsVersion
from ..sources.guards import typed_errors
from ..sources.registry import open_source
from .level import Level
from .slide import SlideView, openslide_downsample
from .volume import VolumeView

_anonymous = itertools.count()


class AssociatedImages(Mapping[str, np.ndarray]):
    """Label, macro and thumbnail images, decoded on first access."""

    def __init__(self, source: Source, path: str | None = None) -> None:
        self._source = source
        self._path = path
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._source.metadata.associated_names:
            raise KeyError(name)
        if name not in self._cache:
            with typed_errors(self._path, f" ({name} image)"):
                self._cache[name] = self._source.read_associated(name)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source.metadata.associated_names)

    def __len__(self) -> int:
        return len(self._source.metadata.associated_names)


class Image(SlideView, VolumeView):
    """A multi-resolution N-D image: levels finest first, metadata, and the slide and volume views."""

    def __init__(
        self,
        source: Source,
        path: str | None = None,
        backend: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        reopen: tuple[Callable[..., Any], tuple[Any, ...]] | None = None,
        identity: str | None = None,
    ) -> None:
        self._source = source
        self.metadata: Metadata = source.metadata
        self.path = path
        self.backend = backend or source.name
        self._options = dict(options or {})
        self._reopen = reopen
        self._identity = identity
        axes = self.metadata.axes
        base = tuple(source.levels[0].shape)
        spatial = "y" in axes and "x" in axes
        self.levels: tuple[Level, ...] = tuple(
            Level(reader, i, axes, openslide_downsample(base, tuple(reader.shape), axes) if spatial else 1.0, path)
            for i, reader in enumerate(source.levels)
        )
        self.associated_images = AssociatedImages(source, path)

    # -- the array ------------------------------------------------------------------------
    @property
    def axes(self) -> str:
        return self.metadata.axes

    @property
    def shape(self) -> tuple[int, ...]:
        return self.levels[0].shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.levels[0].dtype

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def format(self) -> str:
        return self.metadata.format

    @property
    def scale(self) -> tuple[float, ...] | None:
        """Physical size of a level-0 step along each axis, in :attr:`units` (None: unknown)."""
        return self.metadata.scale

    @property
    def units(self) -> tuple[str | None, ...]:
        return self.metadata.units

    @property
    def channel_names(self) -> list[str]:
        return self.metadata.channel_names

    @property
    def channel_colors(self) -> list[tuple[int, int, int] | None]:
        """Display colour per channel where the file gives one (OME-TIFF), else empty."""
        return self.metadata.channel_colors

    @property
    def level_count(self) -> int:
        return len(self.levels)

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.levels[0][key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.levels[0].__array__(dtype)

    @property
    def identity(self) -> str:
        """What the pixels are, for cache keys: the file's path, size and modification time (a URL's
        ETag, or version, and size) when it was opened, plus backend and options; a never-reused token
        for in-memory images. A replaced object never serves stale tiles from a shared cache."""
        if self._identity is None:
            if self.path is None:
                self._identity = f"mem:{os.getpid()}:{next(_anonymous)}"
            else:
                self._identity = f"{self._stamp(self.path)}|{self.backend}|{sorted(self._options.items())!r}"
        return self._identity

    def _stamp(self, path: str) -> str:
        if is_url(path):
            source = self._source
            return f"{path}|{source.version if isinstance(source, SupportsVersion) else object_version(path)}"
        try:
            st = os.stat(path)
        except OSError:
            return path
        return f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        if self._reopen is not None:
            return self._reopen
        if self.path is None:  # in memory: the source pickles with its data
            return (Image, (self._source, None, self.backend))
        return (reopen, (self.path, self.backend, self._options))

    def __repr__(self) -> str:
        shape = " x ".join(f"{a}={n}" for a, n in zip(self.axes, self.shape))
        return (
            f"<Image {self.path or '(array)'} {self.format} {shape} levels={self.level_count} "
            f"dtype={self.dtype} backend={self.backend}>"
        )


def open_image(path: str | os.PathLike[str], backend: str | None = None, **options: Any) -> Image:
    """Open any supported image with the best-rated (or the named) backend: ``ziggurat.open``."""
    path = os.fspath(path)
    source = open_source(path, backend, **options)
    with typed_errors(path):
        return Image(source, path, source.name, options)


def reopen(path: str, backend: str | None, options: Mapping[str, Any]) -> Image:
    """Open ``path`` again (what an unpickled Image does in its new process)."""
    return open_image(path, backend, **options)
