"""A moto S3 server on loopback behind the counting, fault-injecting proxy, shared by the io tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ziggurat.testing.s3 import LocalS3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[LocalS3]:
    pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
    pytest.importorskip("obstore", reason="obstore is in the remote extra")
    with LocalS3() as server:
        yield server


@pytest.fixture
def s3(s3_server: LocalS3) -> LocalS3:
    """The server with its proxy counters at zero (and no faults queued)."""
    assert s3_server.proxy is not None
    s3_server.proxy.reset()
    return s3_server
