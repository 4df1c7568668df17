"""``ziggurat tile INPUT LEVEL X Y OUTPUT``: one DeepZoom/XYZ tile, styled and encoded, through the cache.

The tile goes through :class:`ziggurat.TileService`, the same path (and cache keys) as the library
and ``ziggurat serve``: a tile written with ``--cache redis://…`` is a cache hit for a server on
the same redis, and the other way round. The encoding is ``--format``, else OUTPUT's suffix.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import EncodingError
from .grammar import Renamed, add_view_options, check_suffix, refuse_existing, view_of

SUFFIXES = {
    "jpeg": (".jpg", ".jpeg"),
    "png": (".png",),
    "webp": (".webp",),
    "tiff": (".tif", ".tiff"),
    "npy": (".npy",),
}
FORMATS = tuple(SUFFIXES)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tile = commands.add_parser("tile", help="write one tile (DeepZoom or XYZ), styled and encoded")
    tile.add_argument("input", help="an image, slide or volume (a plane of it: --axis --slice --t)")
    tile.add_argument("level", type=int, help="DeepZoom level (0 = 1x1 px) or XYZ z")
    tile.add_argument("x", type=int, help="tile column")
    tile.add_argument("y", type=int, help="tile row")
    tile.add_argument("output", nargs="?", help="output file ('-' for stdout)")
    tile.add_argument("-o", dest="output_option", metavar="OUTPUT", help="the output, as an option")
    tile.add_argument("--output", dest="output_option", help=argparse.SUPPRESS)
    tile.add_argument("--grid", choices=("dz", "xyz"), default="dz", help="DeepZoom or XYZ (google) numbering")
    tile.add_argument("--tile-size", type=int, default=256, help="tile size in pixels")
    tile.add_argument("--overlap", type=int, default=0, help="overlap in pixels (DeepZoom)")
    tile.add_argument("--format", choices=FORMATS, default=None, help="encoding (default: OUTPUT's suffix, else jpeg)")
    tile.add_argument("--encoding", dest="format", choices=(*FORMATS, "numpy"), action=Renamed, new="--format")
    tile.add_argument("--quality", type=int, default=90, help="JPEG/WebP quality 1-100")
    tile.add_argument("--cache", help="tile cache URL: memory://?max=2GB, memcached://host:11211, redis://host:6379/0 "
                                      "(default: ZIGGURAT_CACHE, else memory://)")  # fmt: skip
    tile.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    add_view_options(tile)
    tile.set_defaults(run=run)


def _format(output: str, asked: str | None) -> str:
    """``--format``, else the one OUTPUT's suffix names; a suffix naming another format is refused."""
    if asked == "numpy":
        raise EncodingError("encoding: 'numpy' is an in-memory array; write 'npy' instead")
    if output == "-":
        return asked or "jpeg"
    by_suffix = next((f for f, ends in SUFFIXES.items() if output.lower().endswith(ends)), None)
    fmt = asked or by_suffix or "jpeg"
    check_suffix(output, SUFFIXES[fmt], f"a {fmt} tile")
    return fmt


def run(args: argparse.Namespace) -> None:
    from ..io.atomic import atomic_path
    from ..model.image import open_image
    from ..tiles.service import TileService

    output = args.output or args.output_option
    if output is None:
        raise ValueError("tile: give the OUTPUT file ('-' for stdout)")
    fmt = _format(output, args.format)
    if output != "-":
        refuse_existing([output], args.overwrite)
    service = TileService(args.cache)
    with open_image(args.input) as opened:
        data = service.tile(view_of(opened, args), args.level, args.x, args.y, grid=args.grid,
                            tile_size=args.tile_size, overlap=args.overlap, style=args.style, encoding=fmt,
                            quality=args.quality)  # fmt: skip
    assert isinstance(data, bytes)
    if output == "-":
        sys.stdout.buffer.write(data)
        return
    with atomic_path(output) as tmp, open(tmp, "wb") as out:
        out.write(data)
