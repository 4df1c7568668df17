"""The anchor tile servers of ``python -m bench serve``, each the simplest equivalent of
``ziggurat serve`` behind the same framework (Starlette on uvicorn, decode in the threadpool):

* ``openslide_app``: openslide-python's ``DeepZoomGenerator`` (254 px tiles, overlap 1), as
  openslide's own example server uses it, JPEG q90 through Pillow;
* ``large_image_app``: large_image's ``getTile`` (the tiff source, JPEG q90, its default tile cache).

uvicorn starts them with ``--factory``; the slide comes from ``BENCH_SERVE_SLIDE``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _app(path: str, render: Callable[[int, int, int], bytes]) -> Starlette:
    """``GET path`` with three int parameters -> ``render(a, b, c)`` as image/jpeg; 404 outside."""

    async def tile(request: Request) -> Response:
        try:
            data = await run_in_threadpool(render, *request.path_params.values())
        except ValueError as exc:  # openslide's and large_image's "no such tile"
            return JSONResponse({"error": str(exc)}, status_code=404)
        return Response(data, media_type="image/jpeg")

    return Starlette(routes=[Route(path, tile)])


def openslide_app() -> Starlette:
    from openslide import OpenSlide
    from openslide.deepzoom import DeepZoomGenerator

    dz = DeepZoomGenerator(OpenSlide(os.environ["BENCH_SERVE_SLIDE"]), 254, 1)

    def render(level: int, col: int, row: int) -> bytes:
        out = io.BytesIO()
        dz.get_tile(level, (col, row)).save(out, "jpeg", quality=90)
        return out.getvalue()

    return _app("/dz/{level:int}/{col:int}_{row:int}.jpeg", render)


def large_image_app() -> Starlette:
    import large_image_source_tiff

    source = large_image_source_tiff.open(os.environ["BENCH_SERVE_SLIDE"], encoding="JPEG", jpegQuality=90)
    return _app("/xyz/{z:int}/{x:int}/{y:int}.jpeg", lambda z, x, y: source.getTile(x, y, z))
