"""One conformance suite for every tile-cache backend, against real memcached and redis servers.

The shared backends also run the fault tests: the server is killed mid-run (requests keep
working, one warning, errors counted) and restarted on the same port (the cache reconnects).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

import ziggurat
from ziggurat.cache import CacheUnavailableWarning, MemoryCache, NullCache, open_cache, parse_size
from ziggurat.cache.base import TileCache
from ziggurat.cache.keys import source_identity, tile_key
from ziggurat.testing.servers import LocalServer
from ziggurat.errors import CacheConfigError


class CacheContract:
    """What every backend must do; subclasses provide the ``cache`` fixture."""

    def test_miss_then_hit(self, cache: TileCache) -> None:
        key = tile_key("src", level=1, x=2, y=3)
        assert cache.get(key) is None
        cache.set(key, b"\xff\xd8tile")
        assert cache.get(key) == b"\xff\xd8tile"
        assert (cache.hits, cache.misses) == (1, 1)

    def test_binary_and_large_values(self, cache: TileCache) -> None:
        value = np.random.default_rng(0).integers(0, 256, 3 * 2**20, dtype=np.uint8).tobytes()
        cache.set("big", value)
        assert cache.get("big") == value
        cache.set("zeros", b"\x00" * 7)
        assert cache.get("zeros") == b"\x00" * 7

    def test_overwrite_and_clear(self, cache: TileCache) -> None:
        cache.set("k", b"one")
        cache.set("k", b"two")
        assert cache.get("k") == b"two"
        cache.clear()
        assert cache.get("k") is None

    def test_threads_share_the_cache(self, cache: TileCache) -> None:
        def work(n: int) -> None:
            for i in range(50):
                cache.set(f"t{n}-{i}", bytes([n, i]))
                assert cache.get(f"t{n}-{i}") == bytes([n, i])

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cache.hits == 200 and cache.errors == 0


class TestMemory(CacheContract):
    @pytest.fixture
    def cache(self) -> TileCache:
        return open_cache("memory://?max=64MB")

    def test_lru_bounded_in_bytes(self) -> None:
        cache = MemoryCache(max_bytes=1000)
        for i in range(5):
            cache.set(f"k{i}", bytes(300))
        assert cache.nbytes == 900 and cache.evictions == 2
        assert cache.get("k0") is None and cache.get("k4") == bytes(300)
        cache.get("k2")  # refresh k2, so k3 is evicted next
        cache.set("k5", bytes(300))
        assert cache.get("k2") is not None and cache.get("k3") is None

    def test_default_budget_is_a_fraction_of_ram(self) -> None:
        import psutil

        assert MemoryCache().max_bytes == psutil.virtual_memory().total // 16


class SharedContract(CacheContract):
    kind = ""

    @pytest.fixture(scope="class")
    @classmethod
    def server(cls) -> Iterator[LocalServer]:
        with LocalServer(cls.kind) as server:
            yield server

    @pytest.fixture
    def cache(self, server: LocalServer) -> TileCache:
        cache = open_cache(server.url)
        cache.clear()
        return cache

    def test_server_down_then_back(self, server: LocalServer) -> None:
        cache = open_cache(server.url)
        cache.retry_after = 0.05  # type: ignore[attr-defined]
        cache.set("k", b"v")
        server.stop()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.monotonic()
            for _ in range(20):
                assert cache.get("k") is None
                cache.set("k", b"v")
            assert time.monotonic() - started < 5
        assert [w.category for w in caught] == [CacheUnavailableWarning]
        assert cache.errors >= 2 and not cache.available  # type: ignore[attr-defined]
        server.start()
        time.sleep(0.06)
        cache.set("k", b"again")
        assert cache.get("k") == b"again" and cache.available  # type: ignore[attr-defined]

    def test_hung_server_times_out_into_misses(self, server: LocalServer) -> None:
        cache = open_cache(server.url)
        cache.retry_after = 0.05  # type: ignore[attr-defined]
        cache.set("k", b"v")
        server.pause()
        try:
            started = time.monotonic()
            with pytest.warns(CacheUnavailableWarning):
                assert cache.get("k") is None
            assert time.monotonic() - started < 2  # the 0.25 s socket timeout, not a hang
        finally:
            server.pause(False)
        time.sleep(0.06)
        deadline = time.monotonic() + 5
        while cache.get("k") != b"v":  # the pool drops the timed-out connection and reconnects
            assert time.monotonic() < deadline
            time.sleep(0.06)
        assert cache.available  # type: ignore[attr-defined]
        for i in range(5):  # no late reply from the hung request is read as a later answer
            cache.set(f"n{i}", bytes([i]))
            assert cache.get(f"n{i}") == bytes([i])

    def test_unreachable_at_start_never_raises(self) -> None:
        scheme = "memcached" if self.kind == "memcached" else "redis"
        from ziggurat.testing.servers import free_port

        cache = open_cache(f"{scheme}://127.0.0.1:{free_port()}")
        with pytest.warns(CacheUnavailableWarning):
            assert cache.get("x") is None
        cache.set("x", b"y")
        assert cache.errors == 2

    def test_tiles_still_served_while_down(self, server: LocalServer, sample_slide: object) -> None:
        image = ziggurat.open(sample_slide, cache=server.url)
        first = image.tile(12, 1, 1)
        server.stop()
        try:
            with pytest.warns(CacheUnavailableWarning):
                assert image.tile(12, 1, 1) == first
            assert image.tile_cache.errors >= 1
        finally:
            server.start()


class TestMemcached(SharedContract):
    kind = "memcached"

    def test_values_over_max_item_are_skipped(self, server: LocalServer) -> None:
        cache = open_cache(server.url.replace("16MiB", "1KB"))
        cache.set("big", bytes(2000))
        assert cache.get("big") is None and cache.skipped == 1  # type: ignore[attr-defined]


class TestRedis(SharedContract):
    kind = "redis"


def test_urls_and_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_size("2GB") == 2 * 10**9 and parse_size("512MiB") == 512 * 2**20
    assert open_cache("memory://?max=1MiB").max_bytes == 2**20  # type: ignore[attr-defined]
    assert isinstance(open_cache("none://"), NullCache)
    for bad in ("ftp://x", "memory://?max=lots", "memory://?size=1GB"):
        with pytest.raises(CacheConfigError):
            open_cache(bad)
    import ziggurat.cache as zc

    monkeypatch.setenv("ZIGGURAT_CACHE", "memory://?max=3MB")
    zc.set_default(None)
    assert zc.get_default().max_bytes == 3 * 10**6  # type: ignore[attr-defined]
    zc.set_default("none://")
    assert isinstance(zc.get_default(), NullCache)
    zc.set_default(None)


def test_keys_follow_source_identity(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "f.bin"
    path.write_bytes(b"1")
    first = source_identity(str(path))
    assert tile_key(first, x=1) != tile_key(first, x=2)
    path.write_bytes(b"22")
    assert source_identity(str(path)) != first
    assert len(tile_key(first, x=1)) < 250
