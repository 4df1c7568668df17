"""Test support shipped with the library (like ``zarr.testing``): the source conformance suite
(:mod:`ziggurat.testing.sources`), generated samples, phantoms and local servers.

``SourceTests`` and ``Reference`` are loaded on first use, so the sample writers stay importable
without pytest.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Reference", "SourceTests"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import sources

        return getattr(sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
