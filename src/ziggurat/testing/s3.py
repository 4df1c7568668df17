"""A real S3 protocol server on loopback (moto in server mode), for tests, benchmarks and demos.

``with LocalS3() as s3: s3.upload(path, "slides/a.svs"); ziggurat.open(s3.url("slides/a.svs"),
storage_options=s3.storage_options)``. Optionally behind a :class:`~ziggurat.testing.netproxy.NetProxy`
(latency, bandwidth cap, counters, faults): clients then talk to the proxy's endpoint.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError
from .netproxy import NetProxy

_ranged = threading.local()  # set while moto answers a GET with a Range header


class _Window:
    """A stored object's bytes, read only where sliced: moto copies the whole object for every GET,
    so a range GET of a 250 MB slide would cost a quarter second that real S3 never charges."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __len__(self) -> int:
        return int(self._key.size)

    def __getitem__(self, span: slice) -> bytes:
        start, stop, _ = span.indices(len(self))
        with self._key.lock:
            self._key._value_buffer.seek(start)
            return bytes(self._key._value_buffer.read(max(0, stop - start)))


def _serve_ranges_cheaply() -> None:
    """Make moto read only the requested bytes of a range GET (installed once per process)."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    if getattr(S3Response, "_ziggurat_ranges", False):
        return
    whole = FakeKey.value
    answer = S3Response.key_response

    def value(self: Any) -> Any:
        return _Window(self) if getattr(_ranged, "on", False) else whole.fget(self)  # type: ignore[attr-defined]

    def key_response(self: Any, request: Any, full_url: str, headers: dict[str, Any]) -> Any:
        _ranged.on = request.method == "GET" and "," not in request.headers.get("range", ",")
        try:
            return answer(self, request, full_url, headers)
        finally:
            _ranged.on = False

    FakeKey.value = property(value, whole.fset)  # type: ignore[method-assign, assignment, attr-defined]
    S3Response.key_response = key_response  # type: ignore[method-assign]
    S3Response._ziggurat_ranges = True  # type: ignore[attr-defined]


CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing-secret", "region": "us-east-1"}


class LocalS3:
    """moto's ThreadedMotoServer on 127.0.0.1 with one bucket, reached directly or through a proxy."""

    def __init__(self, bucket: str = "ziggurat", *, latency: float = 0.0, bandwidth: float | None = None) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise BackendUnavailableError("LocalS3 needs moto: pip install 'moto[server]'") from None
        self.bucket = bucket
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._latency, self._bandwidth = latency, bandwidth
        self.proxy: NetProxy | None = None
        self.port = 0

    def start(self) -> LocalS3:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
        _serve_ranges_cheaply()
        self._server.start()
        self.port = int(self._server.get_host_and_port()[1])
        self.proxy = NetProxy(self.port, latency=self._latency, bandwidth=self._bandwidth).start()
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self._server.stop()

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """The endpoint clients use: the proxy in front of moto."""
        assert self.proxy is not None, "start() first"
        return self.proxy.url

    @property
    def direct_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """ziggurat's ``storage_options=`` for this server."""
        return {**CREDENTIALS, "endpoint": self.endpoint}

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point any client (boto3, s3fs, obstore, ziggurat) here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": CREDENTIALS["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["secret_access_key"], "AWS_REGION": CREDENTIALS["region"],
        }  # fmt: skip

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def client(self) -> Any:
        """A boto3 client talking to moto directly (setting up data is not what tests count)."""
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            "s3", endpoint_url=self.direct_endpoint, region_name=CREDENTIALS["region"],
            aws_access_key_id=CREDENTIALS["access_key_id"], aws_secret_access_key=CREDENTIALS["secret_access_key"],
        )  # fmt: skip

    def upload(self, path: str | os.PathLike[str], key: str) -> str:
        """Upload a file, or a folder's files under ``key/``; returns the s3:// URL."""
        source = Path(path)
        client = self.client()
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for file in files:
            name = key if file == source else f"{key}/{file.relative_to(source).as_posix()}"
            client.upload_file(str(file), self.bucket, name)
        return self.url(key)

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
