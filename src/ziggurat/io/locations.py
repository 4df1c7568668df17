"""Where bytes live: a local path or an object-store URL (``s3://bucket/key``, ``http(s)://host/key``).

Every entry point that takes a path routes it through :func:`parse` (or :func:`is_url`), so a URL is
never taken for a local path and a scheme ziggurat cannot read is refused with a typed error.
``storage_options`` given once for a bucket (``configure``) apply to every later open in the process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import UnsupportedSchemeError

REMOTE_SCHEMES = ("s3", "http", "https")
_options: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Location:
    """An object in a bucket (``s3``) or on a web server (``http``/``https``)."""

    scheme: str
    netloc: str  # the bucket (s3) or host[:port] (http)
    key: str  # no leading slash; "" for the bucket or server root
    query: str = ""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}/{self.key}" + (f"?{self.query}" if self.query else "")

    @property
    def root(self) -> str:
        """The store's URL: what one client serves (a bucket, or a web server)."""
        return f"{self.scheme}://{self.netloc}"

    def child(self, name: str) -> Location:
        key = f"{self.key.rstrip('/')}/{name}" if self.key.strip("/") else name
        return Location(self.scheme, self.netloc, key.lstrip("/"), self.query)

    def __str__(self) -> str:
        return self.url


def scheme_of(path: str | os.PathLike[str]) -> str | None:
    """The URL scheme of ``path`` (lower case), or None for a local path (Windows drives included)."""
    text = os.fspath(path)
    head, sep, _ = text.partition("://")
    if not sep or not head or not head.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return None
    return head.lower()


def is_url(path: str | os.PathLike[str]) -> bool:
    """True for a remote URL ziggurat reads; UnsupportedSchemeError for any other ``scheme://``."""
    scheme = scheme_of(path)
    if scheme is None or scheme == "file":
        return False
    if scheme not in REMOTE_SCHEMES:
        raise UnsupportedSchemeError(
            f"{_redact(os.fspath(path))}: unsupported URL scheme {scheme!r}; use s3://, http:// or https://"
        )
    return True


def local_path(path: str | os.PathLike[str]) -> str:
    """A local path as given (``file://`` removed)."""
    text = os.fspath(path)
    return text[len("file://") :] if scheme_of(text) == "file" else text


def parse(url: str | os.PathLike[str]) -> Location:
    """The Location of a remote URL (``is_url`` must hold)."""
    text = os.fspath(url)
    if not is_url(text):
        raise UnsupportedSchemeError(f"{text}: not a remote URL")
    parts = urlsplit(text)
    if not parts.netloc:
        raise UnsupportedSchemeError(f"{_redact(text)}: the URL names no bucket or host")
    netloc = parts.netloc.rsplit("@", 1)[-1]  # user:password@ never travels further
    return Location(parts.scheme.lower(), netloc, parts.path.lstrip("/"), parts.query)


def configure(url: str | Location, storage_options: Mapping[str, Any] | None) -> None:
    """Use ``storage_options`` (endpoint, region, keys, profile, ...) for every object under the
    store of ``url`` in this process (an Image reopened elsewhere passes them again)."""
    if not storage_options:
        return
    root = (url if isinstance(url, Location) else parse(url)).root
    with _lock:
        _options[root] = dict(storage_options)


def configured() -> dict[str, dict[str, Any]]:
    """Every store's configured options, for a worker process to :func:`adopt`."""
    with _lock:
        return {root: dict(options) for root, options in _options.items()}


def adopt(options: Mapping[str, Mapping[str, Any]]) -> None:
    """Take the options another process configured (a spawned worker's initializer)."""
    with _lock:
        _options.update({root: dict(values) for root, values in options.items()})


def options_for(location: Location) -> dict[str, Any]:
    """The storage options configured for the store of ``location`` (empty: the environment's)."""
    with _lock:
        return dict(_options.get(location.root, {}))


def _redact(text: str) -> str:
    parts = urlsplit(text)
    if parts.password is None and parts.username is None:
        return text
    return text.replace(parts.netloc, parts.netloc.rsplit("@", 1)[-1])
