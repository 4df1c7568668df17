"""HTTP plumbing shared by the routes: JSON errors, query parameters, ETag/304 pixel responses."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import (
    CorruptImageError,
    EncodingError,
    ImageNotFoundError,
    OutOfRangeError,
    ResourceLimitError,
    StyleError,
    UnsupportedCodecError,
    UnsupportedFormatError,
    ZigguratError,
)
from ..tiles.service import Job, TileService
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
    (ResourceLimitError, 413),  # over the read budget (ZIGGURAT_MAX_BYTES)
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


#: digits (and a sign) an integer parameter may have: its length is checked before ``int()``
MAX_DIGITS = 12


def int_param(request: Request, name: str, default: int | None, low: int, high: int) -> int:
    """Query parameter ``name`` as an int in [low, high]; 400 when missing or malformed."""
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise HTTPException(400, f"query parameter {name!r} is required")
        return default
    return _bounded(raw, f"query parameter {name!r}", low, high)


def path_int(request: Request, name: str, high: int = 10**MAX_DIGITS - 1) -> int:
    """Path parameter ``name`` (matched as digits by the ``digits`` convertor) as an int in
    [0, high]; 400 beyond (a 5,000-digit tile column is refused before it is parsed)."""
    return _bounded(request.path_params[name], f"path parameter {name!r}", 0, high)


def _bounded(raw: str, what: str, low: int, high: int) -> int:
    if len(raw) > MAX_DIGITS + 1:
        raise HTTPException(400, f"{what} must be in {low}..{high}, got {len(raw)} characters")
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{what} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{what} must be in {low}..{high}, got {value}")
    return value


class Digits(Convertor[str]):
    """``{name:digits}``: what starlette's ``int`` matches, left as text (its ``int()`` of 5,000
    digits raised during routing, a 500); the handler parses it with :func:`path_int`."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("digits", Digits())


def etag_for(entry: Entry, request: Request) -> str:
    """A strong validator: the file's version plus the exact path and (sorted) query. Read from the
    ASGI scope: building ``request.url`` cost a tenth of a cached tile response (py-spy)."""
    scope = request.scope
    query = b"&".join(sorted(scope.get("query_string", b"").split(b"&")))
    text = b"%s|%s|%s" % (entry.version.encode(), scope["path"].encode(), query)
    return f'"{hashlib.blake2b(text, digest_size=12).hexdigest()}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def pixels(request: Request, entry: Entry, media_type: str, service: TileService, job: Job) -> Response:
    """Answer 304 when the client has it, else the cached bytes, else the rendered ones (stored).

    The cache key is the tile service's (the same as the library's and ``ziggurat tile``'s); the
    ETag is the file version + exact URL. Only the in-process tier is asked on the event loop; the
    shared tier (memcached, redis), the render and the cache writes run in the threadpool.
    """
    etag = etag_for(entry, request)
    headers = {"ETag": etag, "Cache-Control": PIXELS_CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body = service.cache.get_local(job.key)
    if body is None:

        def produce() -> bytes:
            data = service.run(job, local_checked=True)
            assert isinstance(data, bytes)  # HTTP encodings are bytes (api._encoding refuses numpy)
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
