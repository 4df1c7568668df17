"""The one byte-size parser: ``"2GB"``, ``"512MiB"``, ``"1.5k"``, ``"1e6"`` -> bytes.

The rule is Dask's (``dask.utils.parse_bytes``), which users of ``pyramid --scheduler`` already
know: units are case-insensitive; ``K M G T P`` and ``KB MB GB TB PB`` are decimal (10**3 ...),
``KiB MiB GiB TiB PiB`` (or ``Ki Mi ...``) are binary (2**10 ...); no unit or ``B`` means bytes.
A fractional result is truncated to whole bytes. Unlike Dask, a number is required ("MB" alone
is an error) and negative, infinite or NaN sizes are refused.
"""

from __future__ import annotations

import math
import re

from ..errors import ZigguratError

__all__ = ["UNITS", "SizeError", "parse_size"]

_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
_BINARY = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    **_DECIMAL,
    **{p + "b": v for p, v in _DECIMAL.items()},
    **{p + "i": v for p, v in _BINARY.items()},
    **{p + "ib": v for p, v in _BINARY.items()},
}
_SIZE = re.compile(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)([a-z]*)")


class SizeError(ZigguratError, ValueError):
    """A byte size that cannot be read (e.g. ``"lots"``, ``"2 GX"``, ``"-1MB"``)."""


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` (an int passes through): ``parse_size("2GB") == 2 * 10**9``."""
    if isinstance(text, bool):
        raise SizeError(f"size: expected a number of bytes, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise SizeError(f"size: {text} is negative")
        return text
    match = _SIZE.fullmatch(str(text).replace(" ", "").lower())
    if match is None or match.group(2) not in UNITS:
        raise SizeError(f"size: cannot read {text!r} (use e.g. 2GB, 512MiB, 1.5G or a number of bytes)")
    value = float(match.group(1)) * UNITS[match.group(2)]
    if not math.isfinite(value):
        raise SizeError(f"size: {text!r} is too large")
    return int(value)
