"""Generated sample data: an H&E-like pyramidal slide, a CT-like volume and a slice stack.

The slide is built tile by tile (memory stays small at any size): a periodic stain texture — pink
stroma, purple nuclei, fine grain — multiplied by a smooth tissue mask over a white background,
then JPEG-compressed by tifffile/imagecodecs on all cores. Every pyramid level is generated from the
same functions at its own scale, so a 40,000 x 30,000 slide takes seconds, not minutes.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

from ..io.atomic import atomic_path

TEXTURE_PERIOD = 2048
MASK_CELL = 64  # level-0 pixels per cell of the tissue mask


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Periodic Gaussian-filtered noise in [0, 1] with features of about ``scale`` cells."""
    noise = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    kernel = np.exp(-((fy**2 + fx**2) * (scale**2) * 2 * math.pi**2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * kernel, s=shape)
    field -= field.min()
    result: np.ndarray = field / max(field.max(), 1e-9)
    return result


def _stain_texture(rng: np.random.Generator) -> np.ndarray:
    """A periodic (P, P, 3) float32 H&E-like texture."""
    p = TEXTURE_PERIOD
    stroma = _smooth_noise(rng, (p, p), 24)
    fibres = _smooth_noise(rng, (p, p), 3)
    nuclei_seed = (rng.random((p, p)) < 0.0012).astype(np.float64)
    nuclei = _smooth_noise_from(nuclei_seed, 3.0)
    nuclei = np.clip(nuclei / max(np.percentile(nuclei, 99.7), 1e-9), 0, 1) ** 0.7
    pink = np.array([236, 160, 196])[None, None] - 40 * stroma[..., None] - 25 * fibres[..., None]
    purple = np.array([88, 52, 140])[None, None]
    tex = pink * (1 - nuclei[..., None]) + purple * nuclei[..., None]
    tex += rng.normal(0, 4, (p, p, 1))
    result: np.ndarray = np.clip(tex, 0, 255).astype(np.float32)
    return result


def _smooth_noise_from(seed: np.ndarray, scale: float) -> np.ndarray:
    fy = np.fft.fftfreq(seed.shape[0])[:, None]
    fx = np.fft.rfftfreq(seed.shape[1])[None, :]
    kernel = np.exp(-((fy**2 + fx**2) * (scale**2) * 2 * math.pi**2))
    return np.fft.irfft2(np.fft.rfft2(seed) * kernel, s=seed.shape)


def _tissue_mask(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Soft tissue mask in [0, 1], one value per MASK_CELL x MASK_CELL block of level 0."""
    gh, gw = math.ceil(height / MASK_CELL) + 2, math.ceil(width / MASK_CELL) + 2
    field = _smooth_noise(rng, (max(gh, 8), max(gw, 8)), max(gh, gw) / 10)[:gh, :gw]
    yy, xx = np.mgrid[0:gh, 0:gw]
    # keep tissue away from the slide's border, as on a real glass slide
    edge = np.minimum.reduce([yy, xx, gh - 1 - yy, gw - 1 - xx]) / (0.08 * min(gh, gw) + 1)
    field = field * np.clip(edge, 0, 1)
    result: np.ndarray = np.clip((field - 0.35) * 12, 0, 1).astype(np.float32)
    return result


class _SlideLevel:
    """Renders the tiles of one pyramid level."""

    def __init__(self, texture: np.ndarray, mask: np.ndarray, scale: int, tile: int) -> None:
        self.texture = texture
        self.period = texture.shape[0] - tile
        self.mask = mask
        self.scale = scale
        self.tile = tile

    def render(self, y: int, x: int) -> np.ndarray:
        t = self.tile
        ty, tx = y % self.period, x % self.period
        tex = self.texture[ty : ty + t, tx : tx + t]
        m = _mask_patch(self.mask, y, x, t, self.scale / MASK_CELL)
        out = (tex - 255.0) * m[..., None]
        out += 255.0
        result: np.ndarray = out.astype(np.uint8)
        return result


def _interp_weights(start: int, n: int, step: float, limit: int) -> tuple[int, np.ndarray]:
    """Linear-interpolation weights (n x k) from grid cells [c0, c0+k) to n pixel centres."""
    pos = np.clip((start + np.arange(n, dtype=np.float32) + 0.5) * step - 0.5, 0, limit - 1.001)
    c0 = int(pos[0])
    k = int(pos[-1]) - c0 + 2
    rel = pos - c0
    weights = np.zeros((n, k), np.float32)
    idx = rel.astype(np.int64)
    frac = rel - idx
    weights[np.arange(n), idx] = 1 - frac
    weights[np.arange(n), idx + 1] = frac
    return c0, weights


def _mask_patch(mask: np.ndarray, y: int, x: int, t: int, step: float) -> np.ndarray:
    """Bilinearly upsampled mask values for the t x t pixels of a tile at level (y, x)."""
    r0, wy = _interp_weights(y, t, step, mask.shape[0])
    c0, wx = _interp_weights(x, t, step, mask.shape[1])
    patch = mask[r0 : r0 + wy.shape[1], c0 : c0 + wx.shape[1]]
    result: np.ndarray = wy @ patch @ wx.T
    return result


def _level_texture(texture: np.ndarray, factor: int, tile: int) -> np.ndarray:
    """The texture averaged down by ``factor``, wrap-padded so any tile is one plain slice."""
    p = texture.shape[0] // factor
    small = texture.reshape(p, factor, p, factor, 3).mean(axis=(1, 3))
    return np.pad(small, ((0, tile), (0, tile), (0, 0)), mode="wrap").astype(np.float32)


def slide_levels(width: int, height: int, min_size: int = 512) -> list[tuple[int, int]]:
    """(width, height) of each level: halve until the larger side is at most ``min_size``."""
    sizes = [(width, height)]
    while max(sizes[-1]) > min_size:
        w, h = sizes[-1]
        sizes.append((max(1, math.ceil(w / 2)), max(1, math.ceil(h / 2))))
    return sizes


def write_slide(
    out: str | os.PathLike[str],
    width: int = 40_000,
    height: int = 30_000,
    *,
    tile: int = 256,
    quality: int = 90,
    mpp: float = 0.25,
    seed: int = 0,
    bigtiff: bool | None = None,
) -> Path:
    """Write an H&E-like pyramidal JPEG TIFF (levels as reduced-resolution IFDs) atomically."""
    rng = np.random.default_rng(seed)
    texture = _stain_texture(rng)
    mask = _tissue_mask(rng, width, height)
    sizes = slide_levels(width, height)
    if bigtiff is None:
        bigtiff = width * height * 3 // 8 > 3_500_000_000
    resolution = (1e4 / mpp, 1e4 / mpp)
    with atomic_path(out) as tmp, tifffile.TiffWriter(tmp, bigtiff=bigtiff) as writer:
        for index, (w, h) in enumerate(sizes):
            scale = 2**index
            level = _SlideLevel(_level_texture(texture, scale, tile), mask, scale, tile)
            writer.write(
                _encoded_tiles(level, w, h, quality),
                shape=(h, w, 3),
                dtype=np.uint8,
                tile=(tile, tile),
                photometric="rgb",
                compression="jpeg",
                subsampling=(2, 2),
                subfiletype=0 if index == 0 else 1,
                resolution=(resolution[0] / scale, resolution[1] / scale),
                resolutionunit="CENTIMETER",
                description="ziggurat sample slide" if index == 0 else None,
                metadata=None,
            )
    return Path(out)


def _encoded_tiles(level: _SlideLevel, width: int, height: int, quality: int) -> Iterator[bytes]:
    """JPEG tiles in row-major order, rendered and encoded on all cores, a bounded window ahead."""
    t = level.tile

    def encode(yx: tuple[int, int]) -> bytes:
        return bytes(imagecodecs.jpeg8_encode(level.render(*yx), level=quality, subsampling="420"))

    positions = ((y, x) for y in range(0, height, t) for x in range(0, width, t))
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        window: deque[Future[bytes]] = deque()
        for yx in positions:
            window.append(pool.submit(encode, yx))
            if len(window) >= 64:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def ct_volume(shape: tuple[int, int, int] = (64, 256, 256), seed: int = 0) -> np.ndarray:
    """A CT-like uint16 phantom (z, y, x): an ellipsoid body, denser inserts, noise."""
    rng = np.random.default_rng(seed)
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    zz, yy, xx = z[:, None, None], y[None, :, None], x[None, None, :]
    body = (xx / 0.85) ** 2 + (yy / 0.7) ** 2 + (zz / 0.95) ** 2 < 1
    volume = np.where(body, 1000.0, 0.0).astype(np.float32)
    for _ in range(6):
        cz, cy, cx = rng.uniform(-0.5, 0.5, 3)
        r = rng.uniform(0.08, 0.2)
        insert = (xx - cx) ** 2 + (yy - cy) ** 2 + (zz - cz) ** 2 < r**2
        volume = np.where(insert & body, rng.uniform(1200, 3000), volume)
    volume += rng.normal(0, 20, shape).astype(np.float32)
    return np.clip(volume, 0, 65535).astype(np.uint16)


def write_volume(out: str | os.PathLike[str], shape: tuple[int, int, int] = (64, 256, 256)) -> Path:
    """Write the CT-like phantom as a multi-page uint16 TIFF (z pages)."""
    with atomic_path(out) as tmp:
        tifffile.imwrite(tmp, ct_volume(shape), metadata={"axes": "ZYX"})
    return Path(out)


def write_stack(out_dir: str | os.PathLike[str], shape: tuple[int, int, int] = (64, 256, 256)) -> Path:
    """Write the phantom as a folder of 16-bit TIFF slices named slice_0000.tif, ..."""
    volume = ct_volume(shape)
    with atomic_path(out_dir, directory=True) as tmp:
        for i, plane in enumerate(volume):
            tifffile.imwrite(Path(tmp) / f"slice_{i:04d}.tif", plane)
    return Path(out_dir)
