"""Object storage by byte range, through obstore (Rust ``object_store``): one client per store and process.

obstore was measured against s3fs on the loopback benchmark (``bench/remote.py``, docs/benchmarks.md):
it issues a region's ranges as parallel requests from native threads with no Python event loop,
so the GIL and asyncio add nothing to a round trip. A client is created lazily in each process
(the pid is checked on every use), so no connection pool crosses a fork; pickled handles carry only
the URL. obstore's tokio runtime does not survive a fork (its threads are gone and every call hangs),
so a child forked after its parent used object storage gets a typed error instead of a hang, and
ziggurat's own process pools spawn such workers (:func:`worker_pool`).
Retries (5xx, SlowDown, timeouts, dropped connections) are obstore's bounded exponential backoff;
failures after them raise typed errors naming the URL, with credentials scrubbed from the message.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from ..errors import BackendUnavailableError, CorruptImageError, ImageNotFoundError, RemoteStorageError
from .locations import Location, adopt, configured, options_for

MAX_RETRIES = 4
RETRY_TIMEOUT = timedelta(seconds=30)
PART_BYTES = 8 << 20  # ranges larger than this are fetched as parallel parts of this size
#: option names other libraries use (s3fs, boto3) mapped to object_store's
ALIASES = {
    "key": "access_key_id", "aws_access_key_id": "access_key_id", "secret": "secret_access_key",
    "aws_secret_access_key": "secret_access_key", "token": "session_token", "aws_session_token": "session_token",
    "region_name": "region", "endpoint_url": "endpoint", "anon": "skip_signature",
}  # fmt: skip
SECRET_OPTIONS = ("access_key_id", "secret_access_key", "session_token")
SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class Store:
    """One bucket (``s3://bucket``) or web server (``https://host``): get, put, list by key."""

    def __init__(self, root: Location, options: dict[str, Any]) -> None:
        self.root = root
        self._options = options
        self._client: Any = None
        self._pid = -1
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "options": self._options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Store.__init__(self, state["root"], state["options"])

    def client(self) -> Any:
        """This process's obstore client (made on first use after a fork)."""
        pid = os.getpid()
        if self._client is None or self._pid != pid:
            with self._lock:
                if self._client is None or self._pid != pid:
                    _claim_runtime(self.root.url)
                    self._client = _make_client(self.root, dict(self._options))
                    self._pid = pid
        return self._client

    def get_ends(self, key: str, head: int, tail: int) -> tuple[bytes, bytes, int, str | None]:
        """The first ``head`` and last ``tail`` bytes of an object (fewer if it is smaller), its size
        and ETag: two GETs in parallel, one round trip (one GET when ``head`` is 0: a shard's index).
        A TIFF's header is at the start and its directories are often at the end."""
        import obstore

        def get(options: Any) -> tuple[bytes, Any]:
            with self._errors(key):
                result = obstore.get(self.client(), key, options=options)
                return bytes(result.bytes()), result.meta

        if head <= 0:
            end, meta = get({"range": {"suffix": tail}})
            return b"", end, int(meta["size"]), meta.get("e_tag")
        with ThreadPoolExecutor(1) as pool:
            last = pool.submit(get, {"range": {"suffix": tail}}) if tail > 0 else None
            first, meta = get({"range": (0, head)})
            end = last.result()[0] if last is not None else b""
        return first, end, int(meta["size"]), meta.get("e_tag")

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Many (offset, length) ranges of one object, fetched as parallel requests (no merging here);
        a range over ``PART_BYTES`` goes as parallel parts (one connection streams less than a link)."""
        counts = [max(1, -(-length // PART_BYTES)) for _, length in ranges]
        if max(counts, default=1) == 1:
            return self._get_ranges(key, ranges)
        parts = [(o + i * PART_BYTES, min(PART_BYTES, n - i * PART_BYTES)) for (o, n), c in zip(ranges, counts)
                 for i in range(c)]  # fmt: skip
        # one request each: object_store would merge adjacent ranges back into one
        with ThreadPoolExecutor(min(16, len(parts)), thread_name_prefix="zig-parts") as pool:
            blobs = iter(list(pool.map(lambda part: self._get_ranges(key, [part])[0], parts)))
        return [b"".join(next(blobs) for _ in range(c)) for c in counts]

    def _get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        import obstore

        if not ranges:
            return []
        with self._errors(key):
            if len(ranges) == 1:
                offset, length = ranges[0]
                blobs = [obstore.get_range(self.client(), key, start=offset, length=length)]
            else:
                blobs = obstore.get_ranges(
                    self.client(), key, starts=[o for o, _ in ranges], lengths=[n for _, n in ranges], coalesce=0
                )
        out = [bytes(b) for b in blobs]
        for (offset, length), blob in zip(ranges, out):
            if len(blob) != length:
                raise CorruptImageError(
                    f"{self.url(key)}: short response ({len(blob)} of {length} bytes at offset {offset})"
                )
        return out

    def get(self, key: str) -> bytes:
        import obstore

        with self._errors(key):
            return bytes(obstore.get(self.client(), key).bytes())

    def version(self, key: str) -> str:
        """What changes with the object (see :func:`_version`), from one HEAD."""
        import obstore

        with self._errors(key):
            meta = obstore.head(self.client(), key)
        return _version(meta)

    def exists(self, key: str) -> bool:
        import obstore

        try:
            with self._errors(key):
                obstore.head(self.client(), key)
        except ImageNotFoundError:
            return False
        return True

    def put(self, key: str, data: bytes | os.PathLike[str]) -> None:
        """Write one object atomically (a large file goes up as a multipart upload, aborted on failure)."""
        from pathlib import Path

        import obstore

        with self._errors(key):
            obstore.put(self.client(), key, Path(data) if isinstance(data, os.PathLike) else data)

    def delete(self, keys: Sequence[str]) -> None:
        import obstore

        if keys:
            with self._errors(keys[0]):
                obstore.delete(self.client(), list(keys))

    def walk(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, version) of every object under ``prefix``; the version changes with the object."""
        import obstore

        with self._errors(prefix):
            for batch in obstore.list(self.client(), prefix or None, chunk_size=1000):
                for meta in batch:
                    yield str(meta["path"]), _version(meta)

    def children(self, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of the objects directly under ``prefix`` (not in its sub-prefixes): one LIST."""
        import obstore

        with self._errors(prefix):
            listed = obstore.list_with_delimiter(self.client(), prefix or None)
        return [(str(meta["path"]), int(meta["size"])) for meta in listed["objects"]]

    def url(self, key: str) -> str:
        return self.root.child(key).url if key else self.root.url

    def _errors(self, key: str) -> _Translate:
        return _Translate(self.url(key), self._options)


def _version(meta: Any) -> str:
    """ETag, last-modified time, version id (versioned buckets) and size: an ETag alone is the same for
    a rewrite with identical bytes (a store's zarr.json), while the data under it changed."""
    return f"{meta.get('e_tag')}-{meta['last_modified'].isoformat()}-{meta.get('version')}-{meta['size']}"


class _Translate:
    """Turn obstore's exceptions into typed ziggurat errors naming the URL, with secrets removed."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self.url = url
        self.secrets = [str(options[k]) for k in options if ALIASES.get(k, k) in SECRET_OPTIONS and options[k]]
        self.secrets += [os.environ[v] for v in SECRET_VARIABLES if os.environ.get(v)]

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if (
            exc is None
            or not isinstance(exc, Exception)
            or isinstance(exc, (CorruptImageError, BackendUnavailableError, RemoteStorageError))
        ):
            return
        from obstore import exceptions as obs

        if isinstance(exc, (obs.NotFoundError, FileNotFoundError)):
            raise ImageNotFoundError(f"{self.url}: no such object") from None
        if isinstance(exc, (obs.PermissionDeniedError, obs.UnauthenticatedError, PermissionError)):
            raise RemoteStorageError(f"{self.url}: access denied (check the credentials)") from None
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for secret in self.secrets:
            text = text.replace(secret, "***")
        raise RemoteStorageError(f"{self.url}: {text[:300]}") from None


_runtime_pid: int | None = None  # the process in which obstore's runtime has started


def _claim_runtime(url: str) -> None:
    """Refuse to use obstore in a child forked after its parent did: it would hang, not fail."""
    global _runtime_pid
    pid = os.getpid()
    if _runtime_pid is None:
        _runtime_pid = pid
    elif _runtime_pid != pid:
        raise RemoteStorageError(
            f"{url}: this process was forked after its parent read object storage, and obstore's runtime "
            "does not survive a fork; start workers with 'spawn' or 'forkserver' "
            "(e.g. DataLoader(..., multiprocessing_context='forkserver'))"
        )


def worker_pool() -> dict[str, Any]:
    """Keyword arguments for a ProcessPoolExecutor whose workers read object storage: spawned
    (with this process's environment and configured storage options) once this process has used
    object storage, since forked workers could not; else the platform's default start method."""
    spawn = _runtime_pid == os.getpid()
    return {
        "mp_context": multiprocessing.get_context("spawn" if spawn else None),
        "initializer": adopt if spawn else None,
        "initargs": (configured(),) if spawn else (),
    }


def _make_client(root: Location, options: dict[str, Any]) -> Any:
    """An obstore client for ``root`` from ``storage_options`` and the standard AWS variables and profiles."""
    try:
        from obstore.store import HTTPStore, S3Store
    except ImportError:
        raise BackendUnavailableError("object storage needs obstore: pip install 'ziggurat[remote]'") from None
    config = {ALIASES.get(k, k): v for k, v in options.items()}
    retry: Any = {
        "max_retries": int(config.pop("max_retries", MAX_RETRIES)),
        "retry_timeout": timedelta(seconds=float(config.pop("retry_timeout", RETRY_TIMEOUT.total_seconds()))),
        "backoff": {"init_backoff": timedelta(milliseconds=50), "max_backoff": timedelta(seconds=2), "base": 2.0},
    }
    client: Any = {
        "timeout": str(config.pop("timeout", "60s")),
        "connect_timeout": "5s",
        "pool_max_idle_per_host": "64",
    }
    if root.scheme != "s3":
        client["allow_http"] = root.scheme == "http"
        return HTTPStore.from_url(root.url, client_options=client, retry_config=retry)
    endpoint = config.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        config["endpoint"] = endpoint
        client["allow_http"] = str(endpoint).startswith("http://")
    if "region" not in config and not os.environ.get("AWS_REGION") and os.environ.get("AWS_DEFAULT_REGION"):
        config["region"] = os.environ["AWS_DEFAULT_REGION"]
    profile = config.pop("profile", None) or os.environ.get("AWS_PROFILE")
    provider = None
    if profile and "access_key_id" not in config:
        import boto3  # type: ignore[import-untyped]
        from obstore.auth.boto3 import Boto3CredentialProvider

        session = boto3.Session(profile_name=profile)
        provider = Boto3CredentialProvider(session)
        if "region" not in config and session.region_name:
            config["region"] = session.region_name
    settings: Any = config  # object_store's keys, checked by obstore itself
    return S3Store(
        root.netloc, config=settings, client_options=client, retry_config=retry, credential_provider=provider
    )


_stores: dict[tuple[str, str], Store] = {}
_stores_lock = threading.Lock()


def store_for(location: Location) -> Store:
    """The Store serving ``location`` with the options configured for it (one per store and options)."""
    options = options_for(location)
    key = (location.root, repr(sorted(options.items())))
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(Location(location.scheme, location.netloc, ""), options)
        return store
