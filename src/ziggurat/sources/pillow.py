"""Pillow backend: ordinary PNG, JPEG, BMP and similar single-resolution images."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from ..errors import CorruptImageError
from .array import ArrayLevel
from .base import SourceMetadata

MAGICS = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"GIF8", b"RIFF")


class PillowSource:
    """Decodes the whole picture on first read (these files are small by nature)."""

    name = "pillow"

    @classmethod
    def probe(cls, path: str, head: bytes) -> int:
        return 40 if head.startswith(MAGICS) else 0

    def __init__(self, path: str) -> None:
        try:
            with PILImage.open(path) as pic:
                pic.load()
                if pic.mode not in ("L", "RGB", "RGBA", "I;16"):
                    pic = pic.convert("RGBA" if "A" in pic.getbands() else "RGB")
                array = np.asarray(pic)
        except Exception as exc:
            raise CorruptImageError(f"{path}: cannot decode ({exc})") from exc
        if array.ndim == 2:
            array = array[..., None]
        self.levels = [ArrayLevel(array, (array.shape[0], array.shape[1]))]
        self.metadata = SourceMetadata(format=f"pillow-{path.rsplit('.', 1)[-1].lower()}")

    def read_associated(self, name: str) -> np.ndarray:
        raise KeyError(name)

    def close(self) -> None:
        pass
