"""openslide-python's ``openslide.deepzoom``: :class:`DeepZoomGenerator`, tiles through ziggurat's tile path."""

from __future__ import annotations

from ..interop.deepzoom import DeepZoomGenerator as DeepZoomGenerator
