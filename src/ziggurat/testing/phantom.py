"""A synthetic MRI-like head for tests and benchmarks: brain tissue classes, a skull, integer intensities.

Like skull-stripped research data (BraTS), the background is exactly zero and intensities are whole
numbers stored as float32, so compression figures are representative of real MRI rather than of noise.
"""

from __future__ import annotations

import numpy as np


def mri_volume(shape: tuple[int, int, int] = (155, 240, 240), channels: int = 0, seed: int = 0) -> np.ndarray:
    """A float32 (z, y, x) head phantom, or (c, z, y, x) with ``channels`` contrasts when > 0."""
    rng = np.random.default_rng(seed)
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    zz, yy, xx = z[:, None, None], y[None, :, None], x[None, None, :]
    radius = (xx / 0.75) ** 2 + (yy / 0.9) ** 2 + (zz / 0.85) ** 2
    ripple = 0.04 * np.sin(9 * xx) * np.cos(7 * yy) * np.sin(5 * zz)
    brain = radius + ripple < 0.8
    white = radius + 2 * ripple < 0.45
    ventricles = (xx / 0.12) ** 2 + (yy / 0.3) ** 2 + (zz / 0.25) ** 2 < 1
    skull = (radius >= 0.88) & (radius < 1.0)
    contrasts = [(600, 900, 250, 300), (900, 600, 1600, 150), (700, 800, 300, 500), (500, 750, 200, 900)]
    out = []
    for grey_level, white_level, csf_level, bone_level in contrasts[: max(channels, 1)]:
        vol = np.zeros(shape, np.float32)
        vol[brain] = grey_level
        vol[white] = white_level
        vol[ventricles & brain] = csf_level
        vol[skull] = bone_level
        noise = rng.normal(0, 25, shape).astype(np.float32)
        vol = np.where(vol > 0, np.maximum(np.rint(vol + noise), 1), 0).astype(np.float32)
        out.append(vol)
    return np.stack(out) if channels else out[0]
