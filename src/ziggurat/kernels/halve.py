"""2x2 area-average halving for pyramid building, fast for 8- and 16-bit pixels.

Pixels are summed and rounded half up, ``(a + b + c + d + 2) >> 2``, as libvips' shrink does. 8-bit
grey and RGB go through Pillow's C ``reduce`` when Pillow is installed (2.5x faster than
NumPy here, and it releases the GIL); other integer types are summed in a wider NumPy type, floats
averaged. An odd last row or column is averaged with itself, so n pixels halve to ceil(n / 2)
(DeepZoom's level sizes).
"""

from __future__ import annotations

import numpy as np

from .resize import downsample2

try:
    from PIL import Image as PILImage
except ImportError:  # pragma: no cover - Pillow is in the 'all' extra
    PILImage = None

WIDER = {np.dtype(np.uint8): np.uint16, np.dtype(np.uint16): np.uint32}
PILLOW_STRIP = 2048  # even, so strips halve independently
PIL_MODES = {1: "L", 3: "RGB"}  # not RGBA: Pillow premultiplies alpha


def halve(block: np.ndarray) -> np.ndarray:
    """Halve an (H, W, C) block by 2x2 area averaging to (ceil(H/2), ceil(W/2), C)."""
    channels = block.shape[2]
    if PILImage is not None and block.dtype == np.uint8 and channels in PIL_MODES:
        return halve_pillow(block)
    return halve_numpy(block)


def halve_pillow(block: np.ndarray) -> np.ndarray:
    """:func:`halve` by Pillow's ``Image.reduce(2)`` (8-bit L, RGB), a column strip at a time
    so Pillow's working copies stay small."""
    h, w, channels = block.shape
    out = np.empty(((h + 1) // 2, (w + 1) // 2, channels), block.dtype)
    for x in range(0, w, PILLOW_STRIP):
        strip = block[:, x : x + PILLOW_STRIP]
        image = PILImage.fromarray(
            strip[..., 0] if channels == 1 else strip, PIL_MODES[channels]
        )
        reduced = np.asarray(image.reduce(2))
        out[:, x // 2 : x // 2 + reduced.shape[1]] = (
            reduced[..., None] if channels == 1 else reduced
        )
    return out


def halve_numpy(block: np.ndarray) -> np.ndarray:
    """:func:`halve` in NumPy: integers summed in a wider type, floats averaged."""
    wide = WIDER.get(block.dtype)
    if wide is None:
        return downsample2(block)
    if block.shape[0] % 2:
        block = np.concatenate([block, block[-1:]], axis=0)
    if block.shape[1] % 2:
        block = np.concatenate([block, block[:, -1:]], axis=1)
    rows = block[0::2].astype(wide)
    rows += block[1::2]
    out = rows[:, 0::2] + rows[:, 1::2]
    out += 2
    out >>= 2
    return out.astype(block.dtype)
