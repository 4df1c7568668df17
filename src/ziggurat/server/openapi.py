"""The OpenAPI 3.1 description of the server's API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..version import __version__
from .api import AXES, MAX_PAGE, MAX_SIDE, MAX_STYLE, VIEWS
from .http import MAX_DIGITS

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff", "application/x-npy")


def _param(name: str, where: str, kind: str, description: str, required: bool = False, **bounds: Any) -> dict[str, Any]:
    """One parameter; ``bounds`` are JSON-schema keywords (minimum, maximum, enum, maxLength)."""
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": {"type": kind, **bounds}}  # fmt: skip


def _format(default: str) -> dict[str, Any]:
    return _param("format", "query", "string", f"encoding (default {default})", enum=FORMATS)


def _index(name: str, description: str) -> dict[str, Any]:
    """A tile index in the path: digits, at most MAX_DIGITS of them (400 beyond)."""
    return _param(name, "path", "integer", description, minimum=0, maximum=10**MAX_DIGITS - 1)


FORMATS = ["jpeg", "jpg", "png", "webp", "tiff", "tif", "npy"]
ID = _param("image_id", "path", "string", "the image's stable id, from GET /api/images")
STYLE = _param("style", "query", "string", 'a Style as JSON (e.g. {"colormap":"viridis"}) or a preset name',
               maxLength=MAX_STYLE)  # fmt: skip
QUALITY = _param("quality", "query", "integer", "1..100 for lossy encodings (default 90)", minimum=1, maximum=100)
EXT = _param("ext", "path", "string", "encoding: jpeg/jpg, png, webp, tiff/tif, npy", enum=FORMATS)
#: a volume's plane (ignored for 2-D images); slice and t beyond the volume are a 400
PLANE = [_param("axis", "query", "string", "volumes: the plane's normal (default z)", enum=list(AXES)),
         _param("slice", "query", "integer", "volumes: index along axis (default the middle)", minimum=0),
         _param("t", "query", "integer", "volumes: time point (default 0)", minimum=0),
         _param("view", "query", "string", "volumes: default radiological", enum=list(VIEWS))]  # fmt: skip
ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERRORS = {
    "304": {"description": "not modified (If-None-Match matched the ETag)"},
    "400": {"description": "bad parameter, style or encoding", "content": ERROR_BODY},
    "404": {"description": "unknown id, or a tile outside the grid", "content": ERROR_BODY},
    "413": {"description": "the read is over the server's byte budget", "content": ERROR_BODY},
    "422": {"description": "the file is damaged or in an unsupported codec", "content": ERROR_BODY},
}


def _get(summary: str, params: list[dict[str, Any]], content: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": {"200": {"description": "OK", "content": content}, **ERRORS}}}  # fmt: skip


def _pixels(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return _get(summary, [*params, *PLANE],
                {t: {"schema": {"type": "string", "format": "binary"}} for t in IMAGE_TYPES})  # fmt: skip


def _json(summary: str, params: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    return _get(summary, params, {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}})


def schema() -> dict[str, Any]:
    """The whole OpenAPI document."""
    q = "query"
    dz = [
        _param("tile_size", q, "integer", "tile side (default 254)", minimum=1, maximum=4096),
        _param("overlap", q, "integer", "overlap per interior edge (default 1)", minimum=0, maximum=64),
    ]
    side = {"minimum": 1, "maximum": MAX_SIDE}
    place = {"minimum": -MAX_SIDE, "maximum": MAX_SIDE}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "ziggurat serve", "version": __version__,
                 "description": "Tiles, regions and metadata of the images under the served folders."},
        "paths": {
            "/api/images": _json("list served images, paginated by name",
                                 [_param("offset", q, "integer", "first item (default 0)", minimum=0, maximum=1 << 31),
                                  _param("limit", q, "integer", "page size, 1..1000 (default 100)", minimum=1,
                                         maximum=MAX_PAGE),
                                  _param("cohort", q, "string", "only this served cohort's images (its id, from "
                                         "an item's cohort.id)"),
                                  _param("where", q, "string", "with cohort: a DuckDB SQL condition over its "
                                         "subjects joined to images, e.g. age > 40 AND modality = 'T1w' "
                                         "(a bad one is a 400 with DuckDB's message)")], "ImagePage"),
            "/api/images/{image_id}": _json("full metadata of one image", [ID], "ImageInfo"),
            "/api/images/{image_id}.dzi": _get("DeepZoom descriptor",
                                               [ID, *dz, _format("jpeg"), *PLANE],
                                               {"application/xml": {"schema": {"type": "string"}}}),
            "/api/images/{image_id}_files/{level}/{col}_{row}.{ext}": _pixels("one DeepZoom tile", [
                ID, _index("level", "DeepZoom level (0 is 1x1)"), _index("col", "tile column"),
                _index("row", "tile row"), EXT, *dz, STYLE, QUALITY]),
            "/api/images/{image_id}/tiles/{z}/{x}/{y}.{ext}": _pixels("one XYZ (google layout) tile", [
                ID, _index("z", "zoom (0 fits one tile)"), _index("x", "column"), _index("y", "row"), EXT,
                _param("tile_size", q, "integer", "default 256", minimum=1, maximum=4096),
                STYLE, QUALITY]),
            "/api/images/{image_id}/region": _pixels("a rectangle of one level, rendered", [
                ID, _param("x", q, "integer", "level-0 x", True, **place),
                _param("y", q, "integer", "level-0 y", True, **place),
                _param("width", q, "integer", "width at the read level (width x height at most 4096²)", True, **side),
                _param("height", q, "integer", "height at the read level", True, **side),
                _param("level", q, "integer", "pyramid level (default 0)", minimum=0),
                _format("png"), STYLE, QUALITY]),
            "/api/images/{image_id}/thumbnail": _pixels("the whole image, fitted in max x max", [
                ID, _param("max", q, "integer", "longest side, 1..4096 (default 256)", minimum=1, maximum=4096),
                _format("jpeg"), STYLE, QUALITY]),
            "/api/images/{image_id}/associated/{name}": _pixels("a label, macro or thumbnail image", [
                ID, _param("name", "path", "string", "associated image name"),
                _format("png"), QUALITY]),
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
            "ImageSummary": {"type": "object", "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "format": {"type": "string"},
                "dimensions": {"type": "array", "items": {"type": "integer"}}, "levels": {"type": "integer"},
                "mpp": {"type": ["array", "null"], "items": {"type": "number"}},
                "channels": {"type": "integer"}, "dtype": {"type": "string"},
                "cohort": {"type": ["object", "null"], "description": "for an image of a served cohort",
                           "properties": {"id": {"type": "string"}, "image_id": {"type": "string"},
                                          "subject_id": {"type": "string"}, "modality": {"type": ["string", "null"]},
                                          "columns": {"type": "object"}}}}},
            "ImagePage": {"type": "object", "properties": {
                "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/ImageSummary"}}}},
            "ImageInfo": {"type": "object",
                          "description": "as `ziggurat info --json`, with id and name instead of the path"},
        }},
    }  # fmt: skip
