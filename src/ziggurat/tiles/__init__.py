"""Tiles: grid geometry (DeepZoom / XYZ, pure) and the TileService (key → cache → read → style → encode)."""

from .grid import DeepZoomGrid, TileGrid, XYZGrid, dzi_xml
from .service import TileService

__all__ = ["DeepZoomGrid", "TileGrid", "TileService", "XYZGrid", "dzi_xml"]
