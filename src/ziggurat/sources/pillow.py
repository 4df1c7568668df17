"""Pillow backend: ordinary PNG, JPEG, BMP and similar single-resolution images."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from ..errors import CorruptImageError
from .base import ArrayReader, Metadata, NoAssociatedImages

MAGICS = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"GIF8", b"RIFF")


class PillowSource(NoAssociatedImages):
    """Decodes the whole picture on first read (these files are small by nature)."""

    name = "pillow"
    rank = 40  # the best score probe() gives

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        return 40 if head.startswith(MAGICS) else 0

    def __init__(self, path: str) -> None:
        try:  # from a file object, never a path: Pillow memory-maps uncompressed files it opens by name
            with open(path, "rb") as file, PILImage.open(file) as pic:
                pic.load()
                keep = pic.mode in ("L", "RGB", "RGBA", "I;16")
                array = np.asarray(pic if keep else pic.convert("RGBA" if "A" in pic.getbands() else "RGB"))
        except Exception as exc:
            raise CorruptImageError(f"{path}: cannot decode ({exc})") from exc
        if array.ndim == 2:
            array = array[..., None]
        self.levels = [ArrayReader(array)]
        self.metadata = Metadata.slide(f"pillow-{path.rsplit('.', 1)[-1].lower()}")

    def close(self) -> None:
        pass
