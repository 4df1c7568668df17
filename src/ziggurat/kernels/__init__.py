"""Pure pixel arithmetic: the one 2x reduce (mean/mode/nearest) and the one area resize.

- :func:`reduce2` halves an N-D block along chosen axes; ``mean`` rounds half up,
  ``(sum + n // 2) // n`` for integers (libvips' shrink rule), floats are averaged; an odd extent
  repeats its last sample (n -> ceil(n / 2)). :func:`sum2` is its integer block sums before rounding;
  :func:`sum2_bands` the same over one or two 2-D planes, band by band (the CT thumbnails).
- :func:`resize_area` shrinks (H, W, ...) arrays by exact area averaging with the same rounding.
"""

from .reduce import METHODS, reduce2, sum2, sum2_bands
from .resize import StreamedResize, resize_area

__all__ = ["METHODS", "StreamedResize", "reduce2", "resize_area", "sum2", "sum2_bands"]
