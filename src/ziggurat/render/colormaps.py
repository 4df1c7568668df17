"""Built-in colormaps as 256-entry uint8 RGB lookup tables.

``gray``, ``hot`` and ``jet`` have closed formulas and are computed here. The perceptually uniform
maps (viridis, magma, inferno, plasma, cividis, turbo) are measured data, not formulas, so their
values come from matplotlib (the ``styles`` extra) rather than a copied table.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from ..errors import StyleError

_RAMP = np.linspace(0.0, 1.0, 256)


def _gray(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x, x], axis=1)


def _hot(x: np.ndarray) -> np.ndarray:
    """Black, red, yellow, white: matplotlib's and MATLAB's ``hot``."""
    return np.stack([8 / 3 * x, 8 / 3 * x - 1, 4 * x - 3], axis=1)


def _jet(x: np.ndarray) -> np.ndarray:
    """Blue, cyan, yellow, red: MATLAB's piecewise-linear ``jet``."""
    return np.stack([1.5 - np.abs(4 * x - 3), 1.5 - np.abs(4 * x - 2), 1.5 - np.abs(4 * x - 1)], axis=1)


FORMULAS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"gray": _gray, "hot": _hot, "jet": _jet}
MEASURED = ("viridis", "magma", "inferno", "plasma", "cividis", "turbo")
NAMES = (*FORMULAS, *MEASURED)


@cache
def lut(name: str) -> np.ndarray:
    """The (256, 3) uint8 table of colormap ``name``; StyleError names an unknown map."""
    if name in FORMULAS:
        rgb = FORMULAS[name](_RAMP)
    elif name in MEASURED:
        try:
            from matplotlib import colormaps
        except ImportError as exc:
            raise StyleError(f"colormap {name!r} needs matplotlib: pip install 'ziggurat[styles]'") from exc
        rgb = colormaps[name](_RAMP)[:, :3]
    else:
        raise StyleError(f"colormap: unknown name {name!r} (choose from {', '.join(NAMES)})")
    table: np.ndarray = np.rint(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
    table.flags.writeable = False
    return table
