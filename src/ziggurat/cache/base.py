"""The tile-cache interface every backend implements, and the fault handling shared ones need.

A tile cache maps string keys to bytes. Shared backends (memcached, redis) must never fail a
request: a down or slow server turns into a miss, one warning per outage and an ``errors`` count,
and the next operation after a short back-off tries the server again, so the cache reconnects on
its own when the server returns.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("ziggurat.cache")
T = TypeVar("T")


class CacheUnavailableWarning(RuntimeWarning):
    """A shared cache server could not be reached; tiles are served from the source meanwhile."""


class TileCache(ABC):
    """get/set of encoded tiles by key, with hit/miss/eviction/error counters."""

    url: str = ""

    def __init__(self) -> None:
        self.hits = self.misses = self.errors = 0

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None (a miss, or the server is unavailable)."""

    @abstractmethod
    def set(self, key: str, value: bytes) -> None:
        """Store ``value``; failures are counted, never raised."""

    @abstractmethod
    def clear(self) -> None:
        """Drop every entry this cache can reach."""

    def get_local(self, key: str) -> bytes | None:
        """The part of :meth:`get` that needs no I/O (safe on an event loop); None if there is none.

        ``get_local(k)`` then, on None, ``get_remote(k)`` asks (and counts) exactly as ``get(k)``.
        """
        return None

    def get_remote(self, key: str) -> bytes | None:
        """The rest of :meth:`get` after :meth:`get_local` missed (may do network I/O)."""
        return self.get(key)

    @property
    def evictions(self) -> int:
        return 0

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "evictions": self.evictions, "errors": self.errors}

    def _count(self, value: bytes | None) -> bytes | None:
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} {self.stats()}>"


class SharedCache(TileCache):
    """A networked backend: every server call goes through :meth:`_guard`, a circuit breaker.

    Closed (the server answers): calls go through. The first failure opens the circuit: for
    ``retry_after`` seconds every call is a miss at once, with no network I/O. Then it is half-open:
    exactly one call probes the server while the others still skip it; a success closes the
    circuit, a failure opens it again. An outage therefore costs each caller at most one timeout
    (the calls already in flight when it began), then one probe per ``retry_after``.
    """

    #: seconds to wait after a failure before one call probes the server again
    retry_after = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.failed_calls = 0  # calls that reached the server and failed (``errors`` counts skips too)
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._down_since is None

    def _admit(self) -> bool:
        """May this call reach the server? (closed; or half-open and no other probe in flight)"""
        if self._down_since is None:
            return True
        with self._lock:
            if self._down_since is None:
                return True
            if self._probing or time.monotonic() < self._retry_at:
                return False
            self._probing = True
            return True

    def _guard(self, operation: Callable[[], T], default: T) -> T:
        """Run one server call; on failure count it, warn once per outage and open the circuit."""
        if not self._admit():
            self.errors += 1
            return default
        try:
            result = operation()
        except Exception as exc:
            self.errors += 1
            self.failed_calls += 1
            with self._lock:
                first = self._down_since is None
                if first:
                    self._down_since = time.monotonic()
                self._retry_at = time.monotonic() + self.retry_after
                self._probing = False
            if first:
                warnings.warn(
                    f"tile cache {self.url} unavailable ({type(exc).__name__}: {exc}); serving tiles from the source",
                    CacheUnavailableWarning,
                    stacklevel=4,
                )
            return default
        if self._down_since is not None:
            with self._lock:
                self._down_since = None
                self._probing = False
            log.info("tile cache %s reachable again", self.url)
        return result
