"""``ziggurat serve PATH... [--host --port --workers N --cache URL]``: the tile server and viewer.

With several workers and no ``--cache``, a private memcached is started for the server's lifetime
so every worker shares one tile cache (as ``--cache memcached://...`` would).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve images to a browser: API, tiles and a viewer")
    serve.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders to serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--cache", help="tile cache URL: memory://?max=1GB, memcached://host:port, "
                                       "redis://host:port/0, none:// (default memory://, or a private "
                                       "memcached when --workers > 1)")  # fmt: skip
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    import uvicorn

    from ..cache.local import LocalServer, free_port
    from ..server.app import ENV_CACHE, ENV_ROOTS, create_app

    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    roots = [str(Path(p).resolve()) for p in args.paths]
    create_app(roots, args.cache)  # fail fast, in this process, on bad paths or cache URLs
    helper = None
    cache = args.cache
    if cache is None and args.workers > 1 and shutil.which("memcached"):
        helper = LocalServer("memcached").start()
        cache = helper.url
    os.environ[ENV_ROOTS] = json.dumps(roots)
    os.environ[ENV_CACHE] = cache or "memory://"
    port = args.port or free_port()
    print(f"ziggurat: serving {len(roots)} path(s) at http://{args.host}:{port}/ "
          f"({args.workers} worker{'s' if args.workers > 1 else ''}, cache {os.environ[ENV_CACHE]})",
          flush=True)  # fmt: skip
    try:
        uvicorn.run("ziggurat.server.app:from_environment", factory=True, host=args.host, port=port,
                    workers=args.workers, access_log=args.access_log, log_level="warning")  # fmt: skip
    finally:
        if helper is not None:
            helper.stop()
