"""A slide rendered through a style, as an 8-bit RGB Image: what an 8-bit-only writer (DZI) reads.

``styled(image, style)`` resolves the style once against the whole image (so an ``auto`` window is
the same on every tile) and renders each read lazily; 16-bit, float and signed images then write
like any RGB slide. ``style=None`` is the server's default: 8-bit grey/RGB as they are, every other
image with the default :class:`~ziggurat.render.style.Style` (an auto window).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..model.image import Image
from ..sources.base import Box, NoAssociatedImages
from .style import Renderer, Style


def needs_style(image: Image) -> bool:
    """Whether tiles of ``image`` need rendering before an 8-bit encoder takes them."""
    return image.dtype != np.uint8 or image.channels not in (1, 3)


class StyledReader:
    """One level of a ``yxc`` image, rendered to (h, w, 3) uint8 on read."""

    def __init__(self, level: Any, renderer: Renderer) -> None:
        self._level = level
        self._renderer = renderer
        self.shape: tuple[int, ...] = (*level.shape[:2], 3)
        self.dtype: np.dtype[Any] = np.dtype(np.uint8)
        self.chunks: tuple[int, ...] = (*level.chunks[:2], 3)

    def read(self, box: Box) -> np.ndarray:
        (y0, y1), (x0, x1), (c0, c1) = box
        channels = self._level.shape[2]
        pixels = self._level.read(((y0, y1), (x0, x1), (0, channels)))
        return np.ascontiguousarray(self._renderer(pixels)[:, :, c0:c1])


class StyledSource(NoAssociatedImages):
    """Every level of a slide through one resolved style."""

    name = "styled"

    def __init__(self, image: Image, style: Style) -> None:
        renderer = style.resolve(image)
        self.levels = [StyledReader(level.reader, renderer) for level in image.levels]
        self.metadata = replace(image.metadata, channel_names=[], channel_colors=[])

    def close(self) -> None:
        pass


def styled(image: Image, style: Style | dict[str, Any] | str | None = None) -> Image:
    """``image`` rendered to 8-bit RGB through ``style`` (None: the default, only when needed)."""
    if style is None:
        if not needs_style(image):
            return image
        style = Style()
    parsed = Style.parse(style)
    return Image(StyledSource(image, parsed), image.path, "styled", reopen=(styled, (image, parsed)),
                 identity=f"{image.identity}|style {parsed.key}")  # fmt: skip
