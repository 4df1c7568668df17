"""The JSON and pixel routes under ``/api``: listing, metadata, DeepZoom, XYZ, region, thumbnail.

Every handler resolves the id through the catalog (never a path), validates its parameters on
the event loop (bad ones answer 400 before any pixel is touched) and renders in the threadpool.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ZigguratError
from ..model.describe import describe
from ..model.display import CONVENTIONS, orientation
from ..model.image import Image
from ..model.volume import SPATIAL
from ..render import Style, encoding_for
from ..render.encode import Encoding
from ..sources.base import SLIDE_AXES
from ..tiles.grid import dzi_xml
from ..tiles.service import TileService, grid_for
from .catalog import Catalog, Entry
from .cohorts import BadCondition
from .http import int_param, json_response, metadata_headers, path_int, pixels

AXES = {"z": "z", "y": "y", "x": "x", "axial": "z", "coronal": "y", "sagittal": "x"}
VIEWS = ("radiological", "neurological", "storage")
MAX_PAGE = 1000
MAX_REGION_PIXELS = 4096 * 4096
MAX_SIDE = 1 << 20
MAX_STYLE = 8192  # characters of a style's JSON: a real one is a few hundred


async def _lookup(request: Request) -> tuple[Entry, Image]:
    """The entry and open Image for the path's id (404 if unknown)."""
    catalog: Catalog = request.app.state.catalog
    entry = await find(catalog, request.path_params["image_id"])
    image = catalog.opened(entry)
    if image is None:
        image = await run_in_threadpool(catalog.open, entry)
    return entry, image


async def find(catalog: Catalog, image_id: str) -> Entry:
    """The catalog entry of ``image_id``; an unknown id rescans the folders off the event loop."""
    entry = catalog.known(image_id)
    return entry if entry is not None else await run_in_threadpool(catalog.get, image_id)


async def _pixels_of(request: Request) -> tuple[Entry, Image, TileService]:
    """The entry, the 2-D Image to render (a volume's plane ``?axis=z|y|x&slice=i&t=k&view=…``,
    default the middle axial plane at t = 0 in the radiological view; any other 2-D image reordered
    to y x c) and the app's tile service."""
    entry, opened = await _lookup(request)
    catalog: Catalog = request.app.state.catalog
    axis = _choice(request, "axis", "z", AXES)
    view = _choice(request, "view", "radiological", VIEWS)
    if opened.is_volume:
        extent = opened.shape[-3:][SPATIAL.index(AXES[axis])]
        index = int_param(request, "slice", extent // 2, 0, extent - 1)
        times = opened.shape[0] if opened.axes.startswith("t") else 1
        t = int_param(request, "t", 0, 0, times - 1)
        image = await run_in_threadpool(catalog.plane, entry, opened, AXES[axis], index, t, view)
    else:  # a 2-D image has one plane: the volume parameters are checked, then ignored
        for name in ("slice", "t"):
            int_param(request, name, 0, 0, 1 << 31)
        image = opened if opened.axes == SLIDE_AXES else await run_in_threadpool(catalog.plane, entry, opened, None, 0)
    return entry, image, request.app.state.tiles


def _choice(request: Request, name: str, default: str, allowed: Collection[str]) -> str:
    """Query parameter ``name``, one of ``allowed`` (400 otherwise)."""
    value = request.query_params.get(name, default)
    if value not in allowed:
        raise HTTPException(400, f"query parameter {name!r} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _summary(catalog: Catalog, entry: Entry, image: Image) -> dict[str, Any]:
    """What the listing says of one image (for a volume: of its middle axial plane, plus shape)."""
    volume = None
    fmt = image.format
    if image.is_volume:
        volume = _volume_facts(image)
        image = catalog.plane(entry, image, "z", image.shape[-3] // 2, 0, "radiological")
    elif image.axes != SLIDE_AXES:
        image = catalog.plane(entry, image, None, 0)
    return {
        "id": entry.id,
        "name": entry.name,
        "format": fmt,
        "dimensions": list(image.dimensions),
        "levels": image.level_count,
        "mpp": list(image.mpp) if image.mpp else None,
        "channels": image.channels,
        "dtype": str(image.dtype),
        "volume": volume,
        "cohort": entry.cohort.as_json() if entry.cohort else None,
    }


def _volume_facts(volume: Image) -> dict[str, Any]:
    """What the viewer needs of a volume: shape, spacing, affine, time points, screen edge labels, the file's window."""
    dicom = volume.metadata.extra.get("dicom", {})
    return {
        "shape": list(volume.shape),
        "axes": volume.axes,
        "spacing_mm": list(volume.spacing),
        "affine": volume.affine.tolist(),
        "times": volume.shape[0] if volume.axes.startswith("t") else 1,
        "labels": {c: {a: orientation(volume, a, c).labels for a in "zyx"} for c in CONVENTIONS},
        "modality": dicom.get("modality") or None,
        "file_window": dicom.get("window"),
    }


def auto_window(image: Image) -> list[list[float]]:
    """Each channel's automatic window (the default style's), where the viewer's min/max start."""
    renderer = Style().resolve(image)
    return [[w.low, w.high] for w in renderer.windows]


def _cohort_entries(catalog: Catalog, cohort_id: str | None, where: str | None) -> list[Entry]:
    """The entries, or only those of cohort ``cohort_id`` whose images the SQL ``where`` keeps."""
    entries = catalog.entries()
    if cohort_id is None:
        if where is not None:
            raise HTTPException(400, "query parameter 'where' needs 'cohort' (the id of a served cohort)")
        return entries
    folder = catalog.cohort_folders.get(cohort_id)
    if folder is None:
        raise HTTPException(404, f"no served cohort with id {cohort_id!r}")
    entries = [e for e in entries if e.cohort is not None and e.cohort.cohort == cohort_id]
    if where is None or not where.strip():
        return entries
    try:
        kept = catalog.cohorts.select(folder, where)
    except BadCondition as exc:
        raise HTTPException(400, f"bad 'where' expression: {exc}") from None
    return [e for e in entries if e.cohort is not None and e.cohort.image in kept]


async def list_images(request: Request) -> Response:
    """``GET /api/images?offset=&limit=[&cohort=ID&where=SQL]``: one page of the served images, by
    name; with ``cohort``, that cohort's images, those whose subject/image rows match ``where``."""
    catalog: Catalog = request.app.state.catalog
    offset = int_param(request, "offset", 0, 0, 1 << 31)
    limit = int_param(request, "limit", 100, 1, MAX_PAGE)
    cohort_id, where = request.query_params.get("cohort"), request.query_params.get("where")

    def page() -> tuple[list[dict[str, Any]], int, str]:
        items, versions, entries = [], [], _cohort_entries(catalog, cohort_id, where)
        for entry in entries[offset : offset + limit]:
            try:
                items.append(_summary(catalog, entry, catalog.open(entry)))
                versions.append(f"{entry.id}:{entry.version}")
            except ZigguratError:
                continue  # not an image after all; the catalog forgets it
        return items, len(entries), "|".join([str(len(entries)), *versions])

    items, total, version = await run_in_threadpool(page)
    payload = {"total": total, "offset": offset, "limit": limit, "items": items}
    return json_response(request, payload, version)


async def image_info(request: Request) -> Response:
    """``GET /api/images/{id}``: full metadata (levels, MPP, properties, associated images)."""
    entry, image = await _lookup(request)
    catalog: Catalog = request.app.state.catalog
    if image.axes != SLIDE_AXES:
        facts = await run_in_threadpool(_summary, catalog, entry, image)
        axis, index = ("z", image.shape[-3] // 2) if image.is_volume else (None, 0)
        shown = await run_in_threadpool(catalog.plane, entry, image, axis, index, 0, "radiological")
        facts.update(channel_names=list(shown.channel_names), properties={}, associated_images={},
                     channel_colors=list(shown.channel_colors))  # fmt: skip
    else:
        facts = await run_in_threadpool(describe, image)
        facts.pop("path", None)
        facts.update(id=entry.id, name=entry.name, volume=None)
        facts.setdefault("channel_colors", list(image.channel_colors))
        shown = image
    facts["auto_window"] = await run_in_threadpool(auto_window, shown)
    return json_response(request, facts, entry.version)


def _style(request: Request) -> Style | None:
    raw = request.query_params.get("style")
    if raw is not None and len(raw) > MAX_STYLE:
        raise HTTPException(400, f"query parameter 'style' is over {MAX_STYLE} characters")
    return None if raw is None or raw == "" else Style.parse(raw)


def _encoding(name: str) -> Encoding:
    """An encoding that produces bytes (``numpy`` hands back arrays, which HTTP cannot carry)."""
    encoding = encoding_for(name)
    if encoding.name == "numpy":
        raise HTTPException(400, "encoding 'numpy' is for Python callers; use 'npy' over HTTP")
    return encoding


def _quality(request: Request) -> int:
    return int_param(request, "quality", 90, 1, 100)


async def dzi(request: Request) -> Response:
    """``GET /api/images/{id}.dzi``: the DeepZoom descriptor (tile size, overlap, format)."""
    entry, image, _ = await _pixels_of(request)
    size = int_param(request, "tile_size", 254, 1, 4096)
    overlap = int_param(request, "overlap", 1, 0, 64)
    fmt = _encoding(request.query_params.get("format", "jpeg")).name
    body = dzi_xml(*image.dimensions, size, overlap, fmt)
    headers, not_modified = metadata_headers(request, entry.version)
    if not_modified:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/xml", headers=headers)


async def _tile(request: Request, level: int, col: int, row: int, grid: str, size: int, overlap: int) -> Response:
    entry, image, tiles = await _pixels_of(request)
    encoding = _encoding(request.path_params["ext"])
    style, quality = _style(request), _quality(request)
    if grid == "dz":
        grid_for("dz", *image.dimensions, size, overlap).tile_bounds(level, col, row)  # 404 if outside
    job = tiles.tile_job(image, level, col, row, grid=grid, tile_size=size, overlap=overlap, style=style,
                         encoding=encoding.name, quality=quality)  # fmt: skip
    return await pixels(request, entry, encoding.media_type, tiles, job)


async def dz_tile(request: Request) -> Response:
    """``GET /api/images/{id}_files/{level}/{col}_{row}.{ext}``: one DeepZoom tile."""
    level, col, row = (path_int(request, name) for name in ("level", "col", "row"))
    size = int_param(request, "tile_size", 254, 1, 4096)
    overlap = int_param(request, "overlap", 1, 0, 64)
    return await _tile(request, level, col, row, "dz", size, overlap)


async def xyz_tile(request: Request) -> Response:
    """``GET /api/images/{id}/tiles/{z}/{x}/{y}.{ext}``: one XYZ (google layout) tile."""
    z, x, y = (path_int(request, name) for name in ("z", "x", "y"))
    size = int_param(request, "tile_size", 256, 1, 4096)
    return await _tile(request, z, x, y, "xyz", size, 0)


async def region(request: Request) -> Response:
    """``GET /api/images/{id}/region?x=&y=&width=&height=&level=&format=``: a rectangle, rendered."""
    entry, image, tiles = await _pixels_of(request)
    level = int_param(request, "level", 0, 0, image.level_count - 1)
    x = int_param(request, "x", None, -MAX_SIDE, MAX_SIDE)
    y = int_param(request, "y", None, -MAX_SIDE, MAX_SIDE)
    width = int_param(request, "width", None, 1, MAX_SIDE)
    height = int_param(request, "height", None, 1, MAX_SIDE)
    if width * height > MAX_REGION_PIXELS:
        raise HTTPException(400, f"region of {width}x{height} exceeds {MAX_REGION_PIXELS} pixels")
    encoding = _encoding(request.query_params.get("format", "png"))
    style, quality = _style(request), _quality(request)

    job = tiles.region_job(image, x, y, width, height, level=level, style=style, encoding=encoding.name,
                           quality=quality)  # fmt: skip
    return await pixels(request, entry, encoding.media_type, tiles, job)


async def thumbnail(request: Request) -> Response:
    """``GET /api/images/{id}/thumbnail?max=256&format=jpeg``: the whole image, aspect kept."""
    entry, image, tiles = await _pixels_of(request)
    side = int_param(request, "max", 256, 1, 4096)
    encoding = _encoding(request.query_params.get("format", "jpeg"))
    style, quality = _style(request), _quality(request)

    job = tiles.thumbnail_job(image, side, style=style, encoding=encoding.name, quality=quality)
    return await pixels(request, entry, encoding.media_type, tiles, job)


async def associated(request: Request) -> Response:
    """``GET /api/images/{id}/associated/{name}?format=png``: a label, macro or thumbnail image."""
    entry, image, tiles = await _pixels_of(request)
    name = request.path_params["name"]
    if name not in image.associated_images:
        raise HTTPException(404, f"image {entry.id!r} has no associated image {name!r}")
    encoding = _encoding(request.query_params.get("format", "png"))
    quality = _quality(request)

    job = tiles.associated_job(image, name, encoding=encoding.name, quality=quality)
    return await pixels(request, entry, encoding.media_type, tiles, job)


ROUTES = [
    Route("/api/images", list_images, name="images"),
    Route("/api/images/{image_id}.dzi", dzi, name="dzi"),
    Route("/api/images/{image_id}_files/{level:digits}/{col:digits}_{row:digits}.{ext}", dz_tile, name="dz_tile"),
    Route("/api/images/{image_id}/tiles/{z:digits}/{x:digits}/{y:digits}.{ext}", xyz_tile, name="xyz_tile"),
    Route("/api/images/{image_id}/region", region, name="region"),
    Route("/api/images/{image_id}/thumbnail", thumbnail, name="thumbnail"),
    Route("/api/images/{image_id}/associated/{name}", associated, name="associated"),
    Route("/api/images/{image_id}", image_info, name="image"),
]
