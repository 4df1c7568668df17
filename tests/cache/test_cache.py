"""Every tile-cache backend passes the shipped conformance suite (``ziggurat.testing.caches``)
against real memcached and redis servers; plus the one LRU, the one size parser, URLs and keys."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import ziggurat
from ziggurat.cache import (
    LRU,
    MemoryCache,
    NullCache,
    TieredCache,
    TileCache,
    decoded_tiles,
    open_cache,
    set_decoded_tiles,
)
from ziggurat.cache.keys import tile_key
from ziggurat.errors import CacheConfigError, ZigguratError
from ziggurat.io.sizes import SizeError, parse_size
from ziggurat.testing.caches import CacheTests
from ziggurat.testing.servers import LocalServer


class TestMemory(CacheTests):
    bounded = True

    def make_cache(self, server: LocalServer | None) -> TileCache:
        return open_cache("memory://?max=64MB")

    def make_bounded(self, max_bytes: int) -> TileCache:
        return MemoryCache(max_bytes)


class TestNone(CacheTests):
    stores = False

    def make_cache(self, server: LocalServer | None) -> TileCache:
        return open_cache("none://")


class TestMemcached(CacheTests):
    server_kind = "memcached"

    def make_cache(self, server: LocalServer | None) -> TileCache:
        assert server is not None
        return open_cache(server.url)

    def make_unreachable(self, port: int) -> TileCache:
        return open_cache(f"memcached://127.0.0.1:{port}")


class TestRedis(CacheTests):
    server_kind = "redis"

    def make_cache(self, server: LocalServer | None) -> TileCache:
        assert server is not None
        return open_cache(server.url)

    def make_unreachable(self, port: int) -> TileCache:
        return open_cache(f"redis://127.0.0.1:{port}/0")


class TestTiered(CacheTests):
    server_kind = "redis"

    def make_cache(self, server: LocalServer | None) -> TileCache:
        assert server is not None
        return TieredCache(MemoryCache(64 * 2**20), open_cache(server.url))

    def make_unreachable(self, port: int) -> TileCache:
        return TieredCache(2**20, open_cache(f"redis://127.0.0.1:{port}/0"))

    def test_hits_come_down_from_the_shared_tier(self, server: LocalServer) -> None:
        writer, reader = self.make_cache(server), self.make_cache(server)  # two processes' worth
        writer.set("k", b"v")
        assert reader.get_local("k") is None  # not in the reader's own tier yet
        assert reader.get_remote("k") == b"v"  # found in redis, copied down
        assert reader.get_local("k") == b"v"
        assert isinstance(reader, TieredCache) and reader.shared.hits == 1 and reader.hits == 2

    def test_a_small_local_tier_evicts_but_the_shared_one_still_answers(self, server: LocalServer) -> None:
        cache = TieredCache(1000, open_cache(server.url))
        for i in range(5):
            cache.set(f"e{i}", bytes([i]) * 300)
        assert cache.local.evictions == 2 and cache.get_local("e0") is None
        assert cache.get("e0") == bytes([0]) * 300


def test_memcached_values_over_max_item_are_skipped() -> None:
    with LocalServer("memcached") as server:
        cache = open_cache(server.url.replace("16MiB", "1KB"))
        cache.set("big", bytes(2000))
        assert cache.get("big") is None and cache.skipped == 1  # type: ignore[attr-defined]


def test_default_memory_budget_is_a_fraction_of_ram() -> None:
    import psutil

    assert MemoryCache().max_bytes == psutil.virtual_memory().total // 16


# -- the one LRU -------------------------------------------------------------------------------
def test_lru_bytes_budget_order_and_counters() -> None:
    import numpy as np

    lru: LRU[str, object] = LRU(1000)
    lru.put("a", np.zeros(400, np.uint8))
    lru.put("b", b"x" * 400)
    assert lru.get("a") is not None  # a is now the most recent, so b goes first
    lru.put("c", bytes(400))
    assert "b" not in lru and "a" in lru and "c" in lru and lru.used == 800
    assert (lru.hits, lru.misses, lru.evictions) == (1, 0, 1)
    lru.put("a", bytes(100))  # overwrite re-accounts the size
    assert lru.used == 500 and lru.get("zz") is None and lru.misses == 1
    lru.put("too big", bytes(1001))
    assert "too big" not in lru and len(lru) == 2
    assert lru.pop("a") == bytes(100) and lru.used == 400
    lru.clear()
    assert len(lru) == 0 and lru.used == 0


def test_lru_by_count_is_thread_safe() -> None:
    lru: LRU[int, int] = LRU(50, sizeof=lambda v: 1)

    def work(base: int) -> None:
        for i in range(1000):
            lru.put(base + i, i)
            lru.get(base + i // 2)

    threads = [threading.Thread(target=work, args=(n * 10_000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lru) == 50 and lru.used == 50 and lru.evictions == 4000 - 50


def test_decoded_tiles_is_built_on_first_use_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        set_decoded_tiles(None)
        monkeypatch.setenv("ZIGGURAT_DECODED_CACHE", "1MiB")  # read now, at first use: not at import
        assert decoded_tiles().budget == 2**20
        mine = set_decoded_tiles("2MB")
        assert mine is decoded_tiles() and mine.budget == 2 * 10**6
        own: LRU[object, object] = LRU(10)
        assert set_decoded_tiles(own) is decoded_tiles() is own
    finally:
        monkeypatch.delenv("ZIGGURAT_DECODED_CACHE")
        set_decoded_tiles(None)


# -- the one size parser -----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "size"), [
    ("1000", 1000), ("0", 0), ("2G", 2_000_000_000), ("2GB", 2_000_000_000), ("2 gb", 2_000_000_000),
    ("512MiB", 536_870_912), ("512mi", 536_870_912), ("1.5k", 1500), ("1.5KiB", 1536), ("16m", 16_000_000),
    ("1e6", 1_000_000), ("1e3 kB", 1_000_000), (".5T", 500_000_000_000), ("3TiB", 3 * 1_099_511_627_776),
    ("7B", 7), ("1.9", 1), (4096, 4096),
])  # fmt: skip
def test_parse_size_by_hand_and_as_dask_does(text: str | int, size: int) -> None:
    assert parse_size(text) == size
    dask_utils = pytest.importorskip("dask.utils")
    assert dask_utils.parse_bytes(text) == size  # the rule we follow, checked against Dask itself


@pytest.mark.parametrize("text", ["lots", "", "MB", "2 GX", "-1MB", "1..5G", "1e999", "2G B5", "0x10"])
def test_parse_size_refuses_with_a_typed_error(text: str) -> None:
    with pytest.raises(SizeError) as caught:
        parse_size(text)
    assert isinstance(caught.value, ZigguratError) and isinstance(caught.value, ValueError)


def test_both_size_call_sites_use_the_one_rule(capsys: pytest.CaptureFixture[str]) -> None:
    from ziggurat.cli import main
    from ziggurat.cli.pyramid import parse_bytes

    assert open_cache("memory://?max=2G").max_bytes == parse_bytes("2G") == 2 * 10**9  # type: ignore[attr-defined]
    with pytest.raises(SystemExit):
        main(["pyramid", "in.tif", "out.zarr", "--memory", "lots"])
    err = capsys.readouterr().err
    assert "--memory" in err and "cannot read 'lots'" in err and "2GB" in err


# -- URLs and keys -----------------------------------------------------------------------------
def test_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    assert open_cache("memory://?max=1MiB").max_bytes == 2**20  # type: ignore[attr-defined]
    assert isinstance(open_cache("none://"), NullCache)
    for bad in ("ftp://x", "memory://?max=lots", "memory://?size=1GB", "redis://h?ttl=soon", "memcached://h?timeout=x"):
        with pytest.raises(CacheConfigError):
            open_cache(bad)
    import ziggurat.cache as zc

    monkeypatch.setenv("ZIGGURAT_CACHE", "memory://?max=3MB")
    zc.set_default(None)
    assert zc.get_default().max_bytes == 3 * 10**6  # type: ignore[attr-defined]
    zc.set_default("none://")
    assert isinstance(zc.get_default(), NullCache)
    zc.set_default(None)


def test_keys_follow_the_image_identity(tmp_path: Path) -> None:
    from ziggurat.testing.sample import write_slide

    path = tmp_path / "f.tif"
    write_slide(path, 300, 200)
    first = ziggurat.open(path).identity
    assert tile_key(first, x=1) != tile_key(first, x=2)
    link = tmp_path / "link.tif"
    link.symlink_to(path)
    assert ziggurat.open(link).identity == first  # the same file, the same key, by any name
    write_slide(path, 300, 201)
    assert ziggurat.open(path).identity != first
    assert len(tile_key(first, x=1)) < 250
