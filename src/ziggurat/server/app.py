"""The ASGI application of ``ziggurat serve``: API routes, the viewer pages, static files.

``create_app(roots, cache=URL)`` builds it directly; ``from_environment()`` is the factory each
uvicorn worker process calls (``--workers N``), reading the same settings from the environment,
so every worker opens its own files and all of them share one memcached/redis tile cache.
``cors=ORIGIN`` (or ``*``) lets pages on that origin load tiles and descriptors (OpenSeadragon
elsewhere). The viewer's front-end packages ship inside the package (``static/vendor``, copied from
``node_modules`` by ``scripts/setup`` and by the wheel build, never committed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..cache import MemoryCache, SharedCache, TieredCache, TileCache, open_cache
from ..errors import ZigguratError
from ..tiles.service import TileService
from . import api
from .catalog import Catalog
from .http import http_error, internal_error, ziggurat_error
from .openapi import schema

STATIC = Path(__file__).resolve().parent / "static"
ENV_ROOTS = "ZIGGURAT_SERVE_ROOTS"
ENV_CACHE = "ZIGGURAT_SERVE_CACHE"
ENV_CORS = "ZIGGURAT_SERVE_CORS"
VENDOR = STATIC / "vendor"


def openseadragon_dir() -> Path | None:
    """OpenSeadragon's build folder: ``ZIGGURAT_OPENSEADRAGON``, the package's own copy, else
    ``node_modules`` of a checkout (repo root or the working directory)."""
    override = os.environ.get("ZIGGURAT_OPENSEADRAGON")
    candidates = [Path(override)] if override else []
    candidates.append(VENDOR / "openseadragon")
    for base in (Path(__file__).resolve().parents[3], Path.cwd()):
        candidates.append(base / "node_modules" / "openseadragon" / "build" / "openseadragon")
    return next((c for c in candidates if (c / "openseadragon.min.js").is_file()), None)


LOCAL_TIER_BYTES = 256 * 2**20


def make_cache(url: str | TileCache | None) -> TileCache:
    """The tile cache named by ``url`` (memory://, memcached://, redis://, none://; without one,
    ``ZIGGURAT_CACHE`` or else memory://). A shared one (memcached, redis) gets a bounded
    in-process tier in front (:class:`~ziggurat.cache.TieredCache`), asked on the event loop."""
    cache = open_cache(url or os.environ.get("ZIGGURAT_CACHE") or "memory://")
    if isinstance(cache, SharedCache):
        return TieredCache(MemoryCache(LOCAL_TIER_BYTES), cache)
    return cache


async def index_page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def view_page(request: Request) -> Response:
    await api.find(request.app.state.catalog, request.path_params["image_id"])  # 404 for unknown ids
    return FileResponse(STATIC / "view.html", headers={"Cache-Control": "no-cache"})


async def openapi(request: Request) -> Response:
    return JSONResponse(schema())


def create_app(roots: Sequence[str | os.PathLike[str]], cache: str | TileCache | None = None,
               rescan_seconds: float = 2.0, cors: str | None = None) -> Starlette:  # fmt: skip
    """The server for images under ``roots`` with the tile cache at ``cache`` (a URL or a cache);
    ``cors``: an origin (or ``*``) allowed to read every route from another page.

    Pixels go through one :class:`~ziggurat.tiles.TileService` (``app.state.tiles``), so the
    server stores and finds tiles under the same keys as the library and ``ziggurat tile``.
    """
    routes = [
        Route("/", index_page),
        Route("/view/{image_id}", view_page),
        Route("/api/openapi.json", openapi),
        *api.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    osd = openseadragon_dir()
    if osd is not None:
        routes.append(Mount("/vendor/openseadragon", StaticFiles(directory=osd), name="openseadragon"))
    middleware = [Middleware(CORSMiddleware, allow_origins=[cors], allow_methods=["GET", "HEAD"],
                             expose_headers=["ETag", "Content-Length"])] if cors else []  # fmt: skip
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error, ZigguratError: ziggurat_error, Exception: internal_error},
    )
    app.state.catalog = Catalog(roots, rescan_seconds=rescan_seconds)
    app.state.tiles = TileService(make_cache(cache))
    return app


def from_environment() -> Starlette:
    """The app configured by ``ZIGGURAT_SERVE_ROOTS`` (JSON list), ``ZIGGURAT_SERVE_CACHE`` and
    ``ZIGGURAT_SERVE_CORS``."""
    return create_app(json.loads(os.environ[ENV_ROOTS]), os.environ.get(ENV_CACHE), cors=os.environ.get(ENV_CORS))
