"""The OpenAPI 3.1 description of the server's API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..version import __version__

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff", "application/x-npy")


def _param(name: str, where: str, kind: str, description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": {"type": kind}}  # fmt: skip


ID = _param("image_id", "path", "string", "the image's stable id, from GET /api/images")
STYLE = _param("style", "query", "string", 'a Style as JSON (e.g. {"colormap":"viridis"}) or a preset name')
QUALITY = _param("quality", "query", "integer", "1..100 for lossy encodings (default 90)")
EXT = _param("ext", "path", "string", "encoding: jpeg/jpg, png, webp, tiff/tif, npy")
ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERRORS = {
    "304": {"description": "not modified (If-None-Match matched the ETag)"},
    "400": {"description": "bad parameter, style or encoding", "content": ERROR_BODY},
    "404": {"description": "unknown id, or a tile outside the grid", "content": ERROR_BODY},
}


def _get(summary: str, params: list[dict[str, Any]], content: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": {"200": {"description": "OK", "content": content}, **ERRORS}}}  # fmt: skip


def _pixels(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return _get(summary, params, {t: {"schema": {"type": "string", "format": "binary"}} for t in IMAGE_TYPES})


def _json(summary: str, params: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    return _get(summary, params, {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}})


def schema() -> dict[str, Any]:
    """The whole OpenAPI document."""
    q = "query"
    dz = [_param("tile_size", q, "integer", "tile side (default 254)"),
          _param("overlap", q, "integer", "overlap per interior edge (default 1)")]  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "ziggurat serve", "version": __version__,
                 "description": "Tiles, regions and metadata of the images under the served folders."},
        "paths": {
            "/api/images": _json("list served images, paginated by name",
                                 [_param("offset", q, "integer", "first item (default 0)"),
                                  _param("limit", q, "integer", "page size, 1..1000 (default 100)"),
                                  _param("cohort", q, "string", "only this served cohort's images (its id, from "
                                         "an item's cohort.id)"),
                                  _param("where", q, "string", "with cohort: a DuckDB SQL condition over its "
                                         "subjects joined to images, e.g. age > 40 AND modality = 'T1w' "
                                         "(a bad one is a 400 with DuckDB's message)")], "ImagePage"),
            "/api/images/{image_id}": _json("full metadata of one image", [ID], "ImageInfo"),
            "/api/images/{image_id}.dzi": _get("DeepZoom descriptor",
                                               [ID, *dz, _param("format", q, "string", "tile encoding (default jpeg)")],
                                               {"application/xml": {"schema": {"type": "string"}}}),
            "/api/images/{image_id}_files/{level}/{col}_{row}.{ext}": _pixels("one DeepZoom tile", [
                ID, _param("level", "path", "integer", "DeepZoom level (0 is 1x1)"),
                _param("col", "path", "integer", "tile column"), _param("row", "path", "integer", "tile row"),
                EXT, *dz, STYLE, QUALITY]),
            "/api/images/{image_id}/tiles/{z}/{x}/{y}.{ext}": _pixels("one XYZ (google layout) tile", [
                ID, _param("z", "path", "integer", "zoom (0 fits one tile)"), _param("x", "path", "integer", "column"),
                _param("y", "path", "integer", "row"), EXT, _param("tile_size", q, "integer", "default 256"),
                STYLE, QUALITY]),
            "/api/images/{image_id}/region": _pixels("a rectangle of one level, rendered", [
                ID, _param("x", q, "integer", "level-0 x", True), _param("y", q, "integer", "level-0 y", True),
                _param("width", q, "integer", "width at the read level", True),
                _param("height", q, "integer", "height at the read level", True),
                _param("level", q, "integer", "pyramid level (default 0)"),
                _param("format", q, "string", "encoding (default png)"), STYLE, QUALITY]),
            "/api/images/{image_id}/thumbnail": _pixels("the whole image, fitted in max x max", [
                ID, _param("max", q, "integer", "longest side, 1..4096 (default 256)"),
                _param("format", q, "string", "encoding (default jpeg)"), STYLE, QUALITY]),
            "/api/images/{image_id}/associated/{name}": _pixels("a label, macro or thumbnail image", [
                ID, _param("name", "path", "string", "associated image name"),
                _param("format", q, "string", "encoding (default png)"), QUALITY]),
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
