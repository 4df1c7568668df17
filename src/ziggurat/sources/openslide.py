"""openslide backend: the vendor formats only openslide reads (MRXS, VMS, BIF, ...) and a fallback."""

from __future__ import annotations

import os

import numpy as np
import openslide

from ..errors import CorruptImageError, UnsupportedFormatError
from .base import Box, Metadata

# formats the TIFF backend reads better; openslide ranks below it for these
TIFF_SUFFIXES = (".tif", ".tiff", ".svs", ".ndpi", ".scn", ".bif", ".qptiff")
TIFF_HEADS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


class OpenSlideLevel:
    """A level read through openslide (RGBA, premultiplied; alpha dropped)."""

    def __init__(self, slide: openslide.OpenSlide, index: int, tile: tuple[int, int]) -> None:
        self._slide = slide
        self._index = index
        self._downsample = slide.level_downsamples[index]
        w, h = slide.level_dimensions[index]
        self.shape = (h, w, 3)
        self.dtype = np.dtype(np.uint8)
        self.chunks = (*tile, 3)

    def read(self, box: Box) -> np.ndarray:
        (y, y1), (x, x1), (c0, c1) = box
        location = (round(x * self._downsample), round(y * self._downsample))
        region = self._slide.read_region(location, self._index, (x1 - x, y1 - y))
        return np.asarray(region)[..., c0:c1].copy()


class OpenSlideSource:
    """Any slide openslide-python opens."""

    name = "openslide"
    rank = 60  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        if os.path.isdir(path):
            return 0
        if head[:4] in TIFF_HEADS and path.lower().endswith(TIFF_SUFFIXES):
            return 10  # the tiff backend serves these; asking openslide here would cost a file parse per open
        try:
            vendor = openslide.OpenSlide.detect_format(path)
        except Exception:
            return 0
        if vendor is None:
            return 0
        return 10 if path.lower().endswith(TIFF_SUFFIXES) else 60

    def __init__(self, path: str, *, decoded_cache: object = None) -> None:
        """``decoded_cache`` is accepted (and ignored: openslide keeps its own tile cache) so that a
        TIFF the tiff backend gave up on can fall back here with the same options."""
        try:
            self._slide = openslide.OpenSlide(path)
        except openslide.OpenSlideUnsupportedFormatError as exc:
            raise UnsupportedFormatError(f"{path}: openslide cannot read it ({exc})") from exc
        except openslide.OpenSlideError as exc:
            raise CorruptImageError(f"{path}: {exc}") from exc
        props = dict(self._slide.properties)
        self.levels = []
        for i in range(self._slide.level_count):
            tw = int(props.get(f"openslide.level[{i}].tile-width", 256))
            th = int(props.get(f"openslide.level[{i}].tile-height", 256))
            self.levels.append(OpenSlideLevel(self._slide, i, (th, tw)))
        mpp_x, mpp_y = props.get("openslide.mpp-x"), props.get("openslide.mpp-y")
        power = props.get("openslide.objective-power")
        keep = {k: v for k, v in props.items() if not k.startswith("openslide.level")}
        self.metadata = Metadata.slide(
            props.get("openslide.vendor", "openslide"),
            (float(mpp_x), float(mpp_y)) if mpp_x and mpp_y else None,
            objective_power=float(power) if power else None,
            properties=keep,
            associated_names=list(self._slide.associated_images),
        )

    def read_associated(self, name: str) -> np.ndarray:
        return np.asarray(self._slide.associated_images[name].convert("RGB"))

    def close(self) -> None:
        self._slide.close()
