"""Cache keys: a hash of the image's identity (``Image.identity``), the tile's place, the style and the encoding."""

from __future__ import annotations

import hashlib

PREFIX = "zig1:"


def tile_key(source: str, **parts: object) -> str:
    """A short key (memcached allows 250 bytes) hashing the source and every named part."""
    text = f"{source}|{parts!r}"
    return PREFIX + hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
