"""Cache keys: a hash of the source's identity, the tile's place, the style and the encoding."""

from __future__ import annotations

import hashlib
import os

PREFIX = "zig1:"


def source_identity(path: str | None) -> str:
    """real path + size + mtime for local files (a symlink names its target); the URL itself otherwise."""
    if path is None:
        return "array:unnamed"
    try:
        st = os.stat(path)
    except OSError:
        return str(path)
    return f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"


def tile_key(source: str, **parts: object) -> str:
    """A short key (memcached allows 250 bytes) hashing the source and every named part."""
    text = f"{source}|{parts!r}"
    return PREFIX + hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
