"""``ziggurat tile FILE LEVEL X Y -o OUT``: one DeepZoom/XYZ tile, styled and encoded, through the cache.

The tile goes through :class:`ziggurat.TileService`, the same path (and cache keys) as the library
and ``ziggurat serve``: a tile written with ``--cache redis://…`` is a cache hit for a server on
the same redis, and the other way round.
"""

from __future__ import annotations

import argparse
import sys


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tile = commands.add_parser("tile", help="write one tile (DeepZoom or XYZ), styled and encoded")
    tile.add_argument("path")
    tile.add_argument("level", type=int, help="DeepZoom level (0 = 1x1 px) or XYZ z")
    tile.add_argument("x", type=int, help="tile column")
    tile.add_argument("y", type=int, help="tile row")
    tile.add_argument("-o", "--output", required=True, help="output file ('-' for stdout)")
    tile.add_argument("--grid", choices=("dz", "xyz"), default="dz")
    tile.add_argument("--tile-size", type=int, default=256)
    tile.add_argument("--overlap", type=int, default=0)
    tile.add_argument("--style", help="style JSON or preset name (viridis, ct-bone, ...)")
    tile.add_argument("--encoding", default="jpeg", help="jpeg, png, webp, tiff, npy")
    tile.add_argument("--quality", type=int, default=90)
    tile.add_argument("--cache", help="tile cache URL: memory://?max=2GB, memcached://host:11211, redis://host:6379/0 "
                                      "(default ZIGGURAT_CACHE, else memory://)")  # fmt: skip
    tile.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..errors import EncodingError
    from ..io.atomic import atomic_path
    from ..model.image import open_image
    from ..model.planes import plane
    from ..tiles.service import TileService

    if args.encoding == "numpy":
        raise EncodingError("encoding: 'numpy' is an in-memory array; write 'npy' instead")
    service = TileService(args.cache)
    opened = open_image(args.path)
    image = plane(opened, "z") if opened.is_volume else plane(opened)  # a volume: its middle axial plane
    data = service.tile(image, args.level, args.x, args.y, grid=args.grid, tile_size=args.tile_size,
                        overlap=args.overlap, style=args.style, encoding=args.encoding,
                        quality=args.quality)  # fmt: skip
    assert isinstance(data, bytes)
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return
    with atomic_path(args.output) as tmp, open(tmp, "wb") as out:
        out.write(data)
