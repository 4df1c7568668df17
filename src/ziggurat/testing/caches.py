"""``CacheTests``: the conformance suite every tile-cache backend passes (like ``zarr.testing``'s StoreTests).

A backend's test subclasses it in a few lines::

    class TestRedis(CacheTests):
        server_kind = "redis"                    # a LocalServer the class starts (and kills in tests)

        def make_cache(self, server):
            return open_cache(server.url)

Set ``stores = False`` for a cache that keeps nothing (``none://``) and ``bounded = True`` with
:meth:`make_bounded` for one with a byte budget (checks eviction order and accounting). With a
``server_kind``, the suite also kills the server mid-run (requests keep working as misses, one
:class:`~ziggurat.cache.CacheUnavailableWarning`, errors counted), restarts it on the same port (the
cache reconnects by itself), freezes it (requests time out instead of hanging) and points a cache
at a port nobody listens on.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from ..cache import CacheUnavailableWarning, SharedCache, TieredCache, TileCache
from ..cache.keys import tile_key
from .servers import LocalServer, free_port

__all__ = ["CacheTests"]


def shared_parts(cache: TileCache) -> list[SharedCache]:
    """The networked backends inside ``cache`` (itself, or a tiered cache's shared tier)."""
    if isinstance(cache, TieredCache):
        return shared_parts(cache.shared)
    return [cache] if isinstance(cache, SharedCache) else []


class CacheTests:
    """The checks; a subclass says how to build its cache (and which server it needs)."""

    #: "memcached" or "redis": a LocalServer is started for the class and given to make_cache
    server_kind: str | None = None
    #: False for a cache that stores nothing: every get is a miss
    stores = True
    #: True if make_bounded(max_bytes) builds a byte-bounded LRU of this backend
    bounded = False

    # hooks each backend's test class overrides (like zarr.testing's StoreTests); not stubs
    def make_cache(self, server: LocalServer | None) -> TileCache:
        raise NotImplementedError(f"{type(self).__name__}: give make_cache")

    def make_bounded(self, max_bytes: int) -> TileCache:
        raise NotImplementedError(f"{type(self).__name__}: give make_bounded (bounded = True)")

    def make_unreachable(self, port: int) -> TileCache:
        """A cache of this backend pointed at a port nobody listens on."""
        raise NotImplementedError(f"{type(self).__name__}: give make_unreachable (shared backends)")

    # -- fixtures -------------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def server(cls) -> Iterator[LocalServer | None]:
        if cls.server_kind is None:
            yield None
            return
        with LocalServer(cls.server_kind) as server:
            yield server

    @pytest.fixture
    def cache(self, server: LocalServer | None) -> TileCache:
        cache = self.make_cache(server)
        cache.clear()
        return cache

    def _expect(self, value: bytes) -> bytes | None:
        return value if self.stores else None

    # -- every backend --------------------------------------------------------------------------
    def test_miss_then_hit(self, cache: TileCache) -> None:
        key = tile_key("src", level=1, x=2, y=3)
        assert cache.get(key) is None
        cache.set(key, b"\xff\xd8tile")
        assert cache.get(key) == self._expect(b"\xff\xd8tile")
        assert (cache.hits, cache.misses) == ((1, 1) if self.stores else (0, 2))

    def test_binary_and_large_values(self, cache: TileCache) -> None:
        value = np.random.default_rng(0).integers(0, 256, 3 * 2**20, dtype=np.uint8).tobytes()
        cache.set("big", value)
        assert cache.get("big") == self._expect(value)
        cache.set("zeros", b"\x00" * 7)
        assert cache.get("zeros") == self._expect(b"\x00" * 7)
        cache.set("empty", b"")
        assert cache.get("empty") == self._expect(b"")

    def test_overwrite_and_clear(self, cache: TileCache) -> None:
        cache.set("k", b"one")
        cache.set("k", b"two")
        assert cache.get("k") == self._expect(b"two")
        cache.set("other", b"x")
        cache.clear()
        assert cache.get("k") is None and cache.get("other") is None

    def test_counters(self, cache: TileCache) -> None:
        for i in range(3):
            assert cache.get(f"absent{i}") is None
        cache.set("present", b"v")
        for _ in range(4):
            cache.get("present")
        stats = cache.stats()
        assert set(stats) >= {"hits", "misses", "evictions", "errors"}
        assert (stats["hits"], stats["misses"]) == ((4, 3) if self.stores else (0, 7))
        assert stats["errors"] == 0

    def test_local_then_remote_asks_like_get(self, cache: TileCache) -> None:
        """``get_local`` + ``get_remote`` (what the server does across the event loop) == ``get``."""
        cache.set("split", b"v")
        local = cache.get_local("split")
        found = local if local is not None else cache.get_remote("split")
        assert found == self._expect(b"v")
        assert cache.hits + cache.misses == 1  # one lookup, counted once

    def test_threads_share_the_cache(self, cache: TileCache) -> None:
        def work(n: int) -> None:
            for i in range(50):
                cache.set(f"t{n}-{i}", bytes([n, i]))
                assert cache.get(f"t{n}-{i}") == self._expect(bytes([n, i]))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cache.hits == (200 if self.stores else 0) and cache.errors == 0

    # -- byte budgets -----------------------------------------------------------------------------
    def test_budget_evicts_least_recently_used(self) -> None:
        if not self.bounded:
            pytest.skip("this backend has no byte budget of its own")
        cache = self.make_bounded(1000)
        for i in range(5):
            cache.set(f"k{i}", bytes(300))
        assert cache.evictions == 2
        assert cache.get("k0") is None and cache.get("k1") is None and cache.get("k4") == bytes(300)
        cache.get("k2")  # refresh k2, so k3 is evicted next
        cache.set("k5", bytes(300))
        assert cache.get("k2") is not None and cache.get("k3") is None
        cache.set("huge", bytes(1001))  # larger than the whole budget: not stored, nothing evicted
        assert cache.get("huge") is None and cache.get("k5") is not None

    # -- shared servers: faults -----------------------------------------------------------------
    def _needs_server(self, server: LocalServer | None) -> LocalServer:
        if server is None:
            pytest.skip("no server behind this backend")
        return server

    def _quick_retrying(self, server: LocalServer) -> TileCache:
        """A cache whose shared parts probe a down server again after 50 ms (not the default seconds)."""
        cache = self.make_cache(server)
        for part in shared_parts(cache):
            part.retry_after = 0.05
        return cache

    def test_server_down_degrades_to_misses_then_recovers(self, server: LocalServer | None) -> None:
        server = self._needs_server(server)
        cache = self._quick_retrying(server)
        cache.set("before", b"v")
        server.stop()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                started = time.monotonic()
                for i in range(20):
                    assert cache.get(f"fresh{i}") is None
                    cache.set(f"during{i}", b"x")  # never raises
                assert time.monotonic() - started < 5
            assert [w.category for w in caught] == [CacheUnavailableWarning]
            assert cache.errors >= 2 and not any(p.available for p in shared_parts(cache))
        finally:
            server.start()
        deadline = time.monotonic() + 10  # one probe per retry_after; a loaded machine may refuse the first
        while True:
            time.sleep(0.06)
            cache.set("after", b"again")
            if all(p.available for p in shared_parts(cache)):
                break
            assert time.monotonic() < deadline, "the cache never came back"
        assert cache.get("after") == b"again"
        assert self.make_cache(server).get("after") == b"again"  # it reached the server, not only a local tier

    def test_hung_server_times_out_into_misses(self, server: LocalServer | None) -> None:
        server = self._needs_server(server)
        cache = self._quick_retrying(server)
        cache.set("k", b"v")
        server.pause()
        try:
            started = time.monotonic()
            with pytest.warns(CacheUnavailableWarning):
                assert cache.get("never-set") is None
            assert time.monotonic() - started < 2  # the 0.25 s socket timeout, not a hang
        finally:
            server.pause(False)
        time.sleep(0.06)
        deadline = time.monotonic() + 5
        while cache.get_remote("k") != b"v":  # the pool drops the timed-out connection and reconnects
            assert time.monotonic() < deadline
            time.sleep(0.06)
        assert all(p.available for p in shared_parts(cache))
        for i in range(5):  # no late reply from the hung request is read as a later answer
            cache.set(f"n{i}", bytes([i]))
            assert cache.get(f"n{i}") == bytes([i])

    @pytest.mark.parametrize("fault", ["kill", "freeze"])
    def test_outage_under_load_costs_one_timeout(self, server: LocalServer | None, fault: str) -> None:
        """16 threads read and write while the server is killed or frozen for 1.2 s, then back: no call
        fails, none waits much past the socket timeout, and the circuit breaker keeps the calls that
        reach the dead server to the first wave plus one probe per ``retry_after`` (without it:
        every thread at every retry)."""
        server = self._needs_server(server)
        cache = self.make_cache(server)
        for part in shared_parts(cache):
            part.retry_after = 0.2
        cache.set("warm", b"v")
        latencies: list[float] = []
        failures: list[BaseException] = []
        stop = threading.Event()

        def load(n: int) -> None:
            i = 0
            while not stop.is_set():
                started = time.monotonic()
                try:
                    cache.get(f"t{n}-{i % 50}")
                    cache.set(f"t{n}-{i % 50}", b"x" * 100)
                except BaseException as exc:  # the point: nothing may escape
                    failures.append(exc)
                latencies.append(time.monotonic() - started)
                i += 1

        threads = [threading.Thread(target=load, args=(n,)) for n in range(16)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheUnavailableWarning)
            for t in threads:
                t.start()
            time.sleep(0.3)
            before = len(latencies)
            server.pause() if fault == "freeze" else server.stop()
            down = time.monotonic()
            time.sleep(1.2)
            server.pause(False) if fault == "freeze" else server.start()
            deadline = time.monotonic() + 20  # generous: a loaded CI machine answers slowly after a thaw
            while not all(p.available for p in shared_parts(cache)):
                assert time.monotonic() < deadline, "the cache never came back"
                time.sleep(0.05)
            outage = time.monotonic() - down
            time.sleep(0.3)
            stop.set()
            for t in threads:
                t.join()
        assert not failures
        during = latencies[before:]
        p99 = sorted(during)[int(len(during) * 0.99)]
        assert p99 < 0.5 and max(during) < 3, f"p99 {p99:.2f} s, max {max(during):.2f} s"
        # calls that reached the dead server: the first wave (one per thread), one probe per
        # retry_after until it answered again, and after a kill one fast refusal per pooled
        # connection left from before it (16 each). Without the breaker this would be thousands.
        failed = sum(p.failed_calls for p in shared_parts(cache))
        bound = 16 + 16 + outage / 0.2 + 2
        assert 1 <= failed <= bound, f"{failed} calls reached the server during a {outage:.1f} s outage"
        assert cache.get("warm") == b"v" or fault == "kill"  # a frozen server kept its data

    def test_unreachable_at_start_never_raises(self, server: LocalServer | None) -> None:
        self._needs_server(server)
        cache = self.make_unreachable(free_port())
        with pytest.warns(CacheUnavailableWarning):
            assert cache.get("x") is None
        cache.set("x", b"y")
        assert cache.errors == 2
