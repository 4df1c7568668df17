"""Shipped test support, like ``zarr.testing``: conformance suites (:mod:`ziggurat.testing.sources`,
:mod:`ziggurat.testing.caches`), sample data, phantoms, local servers.

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
