"""``ziggurat serve PATH... [--host --port --processes N --cache URL --cors ORIGIN] [--check]``: server and viewer.

With several processes and no ``--cache``, a private memcached is started for the server's lifetime
so every worker shares one tile cache (as ``--cache memcached://...`` would). ``--check`` starts
the server, asks it for the pages, the list, a descriptor, a tile and OpenSeadragon, and exits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import ZigguratError
from ..io.locations import is_url
from ..server.limits import DEFAULT as default
from ..server.limits import Limits
from .grammar import Renamed, warn


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="serve images to a browser: API, tiles and a viewer")
    serve.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders to serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    serve.add_argument("--processes", type=int, default=1, help="worker processes")
    serve.add_argument("--workers", dest="processes", type=int, action=Renamed, new="--processes")
    serve.add_argument("--cache", help="tile cache URL: memory://?max=1GB, memcached://host:port, "
                                       "redis://host:port/0, none:// (default: memory://, or a private "
                                       "memcached when --processes > 1)")  # fmt: skip
    serve.add_argument("--cors", metavar="ORIGIN", help="let pages on ORIGIN (e.g. https://viewer.example.org, or *) "
                                                        "load tiles and descriptors")  # fmt: skip
    serve.add_argument("--access-log", action="store_true", help="log every request (uvicorn access log, on stdout)")
    limits = serve.add_argument_group("limits", "slow or too many clients, and stopping (docs/reliability.md)")
    for flag, kind, metavar, text in (
        ("--header-timeout", float, "S", "seconds a client has to send a request's headers, then 408"),
        ("--body-timeout", float, "S", "seconds a client has to send a request's body, then 408"),
        ("--keep-alive", float, "S", "seconds an idle keep-alive connection stays open"),
        ("--max-connections", int, "N", "connections per process; a request beyond them is answered 503"),
        ("--backlog", int, "N", "connections the kernel queues before they are accepted"),
        ("--stop-timeout", float, "S", "on SIGTERM, seconds in-flight responses may take before they are cut"),
    ):
        field = flag[2:].replace("-", "_")
        limits.add_argument(flag, type=kind, default=getattr(default, field), metavar=metavar,
                            help=f"{text} (default: %(default)s)")  # fmt: skip
    serve.add_argument("--check", action="store_true",
                       help="start, request a page, the list and a tile of the first image, then exit")  # fmt: skip
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..server import supervisor
    from ..server.app import ENV_CACHE, ENV_CORS, ENV_ROOTS, create_app, openseadragon_dir
    from ..testing.servers import LocalServer, free_port

    if args.processes < 1:
        raise ValueError("--processes must be at least 1")
    roots = [p if is_url(p) else str(Path(p).resolve()) for p in args.paths]
    app = create_app(roots, args.cache, cors=args.cors)  # fail fast, in this process, on bad paths or cache URLs
    if args.check:
        check(app, args.host, args.port)
        return
    helper = None
    cache = args.cache
    if cache is None and args.processes > 1 and shutil.which("memcached"):
        helper = LocalServer("memcached", die_with_parent=True).start()
        cache = helper.url
    os.environ[ENV_ROOTS] = json.dumps(roots)
    os.environ[ENV_CACHE] = cache or "memory://"
    if args.cors:
        os.environ[ENV_CORS] = args.cors
    port = args.port or free_port()
    check_port(args.host, port)
    if openseadragon_dir() is None:
        warn(
            "OpenSeadragon not found (run `npm install` at the repository root, "
            "or set ZIGGURAT_OPENSEADRAGON); the API works, the viewer page will not"
        )
    entries = app.state.catalog.entries()
    url = f"http://{args.host}:{port}/" + (f"view/{entries[0].id}" if len(entries) == 1 else "")
    print(f"ziggurat: serving {len(entries)} image(s) with {args.processes} process(es), "
          f"cache {os.environ[ENV_CACHE]}\n\n    open {url}\n", flush=True)  # fmt: skip
    try:
        config = supervisor.ServeConfig(
            "ziggurat.server.app:from_environment", factory=True, host=args.host, port=port,
            workers=args.processes, access_log=args.access_log, log_level="info" if args.access_log else "warning",
            limits=Limits(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Limits)}),
        )  # fmt: skip
        supervisor.run(config)
    finally:
        if helper is not None:
            helper.stop()


def check_port(host: str, port: int) -> None:
    """Fail with one clear line (exit 2) when ``host:port`` cannot be listened on, before serving."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ZigguratError(f"cannot listen on {host}:{port}: {reason} (pick another --port, or --port 0)") from None


def check(app: Any, host: str, port: int) -> None:
    """Serve ``app`` on a thread and request what a browser would; ZigguratError on a failure."""
    from ..server.thread import live_server
    from ..tiles.grid import DeepZoomGrid

    with live_server(app, host, port) as base:
        items = json.loads(_get(base, "/api/images?limit=1"))["items"]
        if not items:
            raise ZigguratError("check failed: no images found under the given paths")
        first = items[0]["id"]
        deepest = DeepZoomGrid(*items[0]["dimensions"]).level_count - 1
        for path in ("/", f"/view/{first}", f"/api/images/{first}.dzi", f"/api/images/{first}_files/{deepest}/0_0.jpeg",
                     f"/api/images/{first}/thumbnail", "/vendor/openseadragon/openseadragon.min.js"):  # fmt: skip
            _get(base, path)
    print(f"ziggurat: check passed ({items[0]['name']}, {base}/view/{first})")


def _get(base: str, path: str) -> bytes:
    """GET and time one path, printing the status line; ZigguratError unless it answers 200."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            body: bytes = response.read()
    except urllib.error.HTTPError as exc:
        raise ZigguratError(f"check failed: GET {path} answered {exc.code}: {exc.read()[:200]!r}") from None
    print(f"  200 {len(body):>9} B {1000 * (time.perf_counter() - started):7.1f} ms  GET {path}")
    return body
