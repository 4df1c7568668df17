"""Pyramid writers: DeepZoom / XYZ tile trees built in one streaming pass."""

from .dzi import write_dzi

__all__ = ["write_dzi"]
