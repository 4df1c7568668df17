"""DeepZoom / XYZ tile trees from any Image, in one streaming pass (``write_dzi``)."""

from .writer import write_dzi

__all__ = ["write_dzi"]
