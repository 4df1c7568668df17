"""URLs are never local paths: supported schemes parse, every other scheme is refused by type."""

from __future__ import annotations

import pytest

import ziggurat
from ziggurat.errors import UnsupportedSchemeError
from ziggurat.io.locations import Location, is_url, local_path, parse


def test_remote_urls_parse() -> None:
    assert parse("s3://bucket/a/b.svs") == Location("s3", "bucket", "a/b.svs")
    assert parse("https://host:8443/x/y.tif?sig=1").url == "https://host:8443/x/y.tif?sig=1"
    assert parse("s3://bucket/store.zarr").child("0").key == "store.zarr/0"
    assert parse("s3://bucket").child("a.zarr").url == "s3://bucket/a.zarr"


def test_local_paths_are_not_urls() -> None:
    for path in ("slide.svs", "/data/x.zarr", "C:\\slides\\a.svs", "file:///tmp/a.tif", "weird:name.tif"):
        assert not is_url(path)
    assert local_path("file:///tmp/a.tif") == "/tmp/a.tif"


@pytest.mark.parametrize("url", ["gs://bucket/a.svs", "ftp://host/a.svs", "az://c/a.zarr"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedSchemeError, match="unsupported URL scheme"):
        ziggurat.open(url)


def test_passwords_in_urls_never_reach_messages() -> None:
    with pytest.raises(UnsupportedSchemeError) as caught:
        is_url("gs://user:hunter2@host/a.svs")
    assert "hunter2" not in str(caught.value)
    assert parse("https://user:hunter2@host/a.tif").netloc == "host"
