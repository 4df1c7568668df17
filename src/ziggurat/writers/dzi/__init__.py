"""Pyramid writers: DeepZoom / XYZ tile trees (``write_dzi``) and multiscale OME-Zarr (``builder``).

``write_dzi`` is imported on first use, so that importing ``ziggurat.writers.omezarr.builder`` does not load
the tile encoders (~40 ms, a sixth of a 14 MB pyramid build).
"""

from __future__ import annotations

from typing import Any

__all__ = ["write_dzi"]


def __getattr__(name: str) -> Any:
    if name == "write_dzi":
        from .writer import write_dzi

        return write_dzi
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
