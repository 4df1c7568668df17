"""HTTP plumbing shared by the routes: JSON errors, query parameters, ETag/304 pixel responses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..cache import MemoryCache, NullCache, TileCache
from ..errors import (
    CorruptImageError,
    EncodingError,
    ImageNotFoundError,
    OutOfRangeError,
    StyleError,
    UnsupportedCodecError,
    UnsupportedFormatError,
    ZigguratError,
)
from .catalog import Entry

PIXELS_CACHE_CONTROL = "public, max-age=3600"
METADATA_CACHE_CONTROL = "no-cache"

ERROR_STATUS: tuple[tuple[type[ZigguratError], int], ...] = (
    (ImageNotFoundError, 404),
    (OutOfRangeError, 404),
    (StyleError, 400),
    (EncodingError, 400),
    (UnsupportedFormatError, 422),
    (CorruptImageError, 422),
    (UnsupportedCodecError, 422),
)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail))


async def ziggurat_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in ERROR_STATUS if isinstance(exc, kind)), 400)
    return error(status, str(exc))


async def internal_error(request: Request, exc: Exception) -> Response:
    return error(500, f"internal error: {type(exc).__name__}")


def int_param(request: Request, name: str, default: int | None, low: int, high: int) -> int:
    """Query parameter ``name`` as an int in [low, high]; 400 when missing or malformed."""
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise HTTPException(400, f"query parameter {name!r} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"query parameter {name!r} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise HTTPException(400, f"query parameter {name!r} must be in {low}..{high}, got {value}")
    return value


def etag_for(entry: Entry, request: Request) -> str:
    """A strong validator: the file's version plus the exact path and (sorted) query."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()))
    digest = hashlib.blake2b(f"{entry.version}|{request.url.path}|{query}".encode(), digest_size=12)
    return f'"{digest.hexdigest()}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


class ResponseCache:
    """Two tiers: a bounded in-process LRU, asked on the event loop (a dict lookup), in front of
    the configured cache; a shared one (memcached, redis) is asked in the threadpool and its hits
    are copied into the local tier, so N workers share tiles without a network hop per repeat."""

    def __init__(self, cache: TileCache, local_bytes: int = 256 * 2**20) -> None:
        self.shared = None if isinstance(cache, (MemoryCache, NullCache)) else cache
        self.local = cache if self.shared is None else MemoryCache(local_bytes)

    async def get(self, key: str) -> bytes | None:
        data = self.local.get(key)
        if data is None and self.shared is not None:
            data = await run_in_threadpool(self.shared.get, key)
            if data is not None:
                self.local.set(key, data)
        return data

    def set(self, key: str, data: bytes) -> None:
        """Store in both tiers (call from the threadpool: the shared tier is network I/O)."""
        self.local.set(key, data)
        if self.shared is not None:
            self.shared.set(key, data)


async def pixels(
    request: Request,
    entry: Entry,
    media_type: str,
    render: Callable[[], bytes],
    cache: ResponseCache,
) -> Response:
    """Answer 304 when the client has it, else the cached bytes, else ``render``'s (stored).

    Responses are cached by their ETag (file version + exact URL); ``render`` (the decode) and
    the cache writes run in the threadpool, so the event loop never waits on them.
    """
    etag = etag_for(entry, request)
    headers = {"ETag": etag, "Cache-Control": PIXELS_CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    key = f"zs1:{entry.id}:{etag[1:-1]}"
    body = await cache.get(key)
    if body is None:

        def produce() -> bytes:
            data = render()
            cache.set(key, data)
            return data

        body = await run_in_threadpool(produce)
    return Response(body, media_type=media_type, headers=headers)


def metadata_headers(request: Request, version: str) -> tuple[dict[str, str], bool]:
    """ETag and Cache-Control for a metadata document of ``version``, and whether it is a 304."""
    etag = '"' + hashlib.blake2b(f"{version}|{request.url}".encode(), digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": METADATA_CACHE_CONTROL}
    return headers, _matches(request.headers.get("if-none-match"), etag)


def json_response(request: Request, payload: Any, version: str) -> Response:
    """A JSON document with an ETag of its content version, answering 304 when unchanged."""
    headers, not_modified = metadata_headers(request, version)
    if not_modified:
        return Response(status_code=304, headers=headers)
    return JSONResponse(payload, headers=headers)
