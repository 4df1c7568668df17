"""Styles: how raw pixels become 8-bit RGB — windows, gamma, invert, colormaps, composites.

A :class:`Style` is a small JSON-able value (``Style.parse`` takes a dict, a JSON string or a preset
name). ``style.resolve(image)`` fixes ``auto`` windows from percentiles of a low-resolution view of
the image and returns a :class:`Renderer`, a vectorised function from (h, w, C) pixels to (h, w, 3)
uint8: each selected channel is windowed to [0, 1], raised to ``1 / gamma`` (so gamma > 1
brightens mid-tones), optionally inverted, quantised to 256 levels and then either mapped through
a colormap (one channel) or tinted with its colour and summed (additive composite, clipped).

Defaults: an unset bound of a uint8 channel is 0 or 255, every other dtype — and the channels of a
fluorescence image (``Metadata.fluorescence``: multiplex QPTIFF, OME channel pages), 8-bit or not —
is ``auto`` (0.5 / 99.5 percentiles per channel, of one thumbnail-sized view). An explicit ``"auto"``
measures the image for every dtype, 8-bit included (a dim 8-bit image is stretched); unset and
``"auto"`` are kept apart so a plain RGB slide still renders as itself. One channel is drawn with
``gray``; several are tinted with the file's channel colours, else red, green, blue, cyan, magenta,
yellow, white in order, so a plain RGB image renders as itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from ..errors import StyleError
from . import colormaps

AUTO: Literal["auto"] = "auto"
Bound = float | Literal["auto"] | None  # a window bound: a number, "auto" (measured), None (the default)

PALETTE = ("#ff0000", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffff00", "#ffffff")
THUMBNAIL_SIDE = 512

PRESETS: dict[str, dict[str, Any]] = {
    # CT windows in Hounsfield units, as width/level -> min/max (level -/+ width / 2)
    "ct-soft-tissue": {"min": -160, "max": 240},
    "ct-bone": {"min": -500, "max": 1300},
    "ct-lung": {"min": -1350, "max": 150},
    "ct-brain": {"min": 0, "max": 80},
    "fluorescence": {"min": "auto", "max": "auto"},
    **{name: {"colormap": name} for name in colormaps.NAMES},
}

_STYLE_FIELDS = {"channels", "colormap", "min", "max", "gamma", "invert", "percentiles"}
_CHANNEL_FIELDS = {"index", "min", "max", "color", "gamma", "invert"}


@dataclass(frozen=True)
class ChannelStyle:
    """One selected channel: index (or name), window (None = the style's), colour, gamma, invert."""

    index: int | str
    min: Bound = None
    max: Bound = None
    color: tuple[int, int, int] | None = None
    gamma: float | None = None
    invert: bool | None = None


@dataclass(frozen=True)
class Style:
    """A JSON-able rendering recipe; channel-level settings override the style-level ones."""

    channels: tuple[ChannelStyle, ...] | None = None
    colormap: str | None = None
    min: Bound = None
    max: Bound = None
    gamma: float = 1.0
    invert: bool = False
    percentiles: tuple[float, float] = (0.5, 99.5)

    @classmethod
    def parse(cls, spec: Style | dict[str, Any] | str) -> Style:
        """A Style from a Style, a dict, a JSON object string or a preset name."""
        if isinstance(spec, Style):
            return spec
        if isinstance(spec, str):
            text = spec.strip()
            if text in PRESETS:
                spec = PRESETS[text]
            elif text.startswith("{"):
                try:
                    spec = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise StyleError(f"style: invalid JSON ({exc.msg} at column {exc.colno})") from exc
                except (ValueError, RecursionError) as exc:  # a number of over 4300 digits; nesting too deep
                    raise StyleError(f"style: invalid JSON ({type(exc).__name__})") from exc
            else:
                raise StyleError(f"style: unknown preset {text!r} (choose from {', '.join(PRESETS)})")
        if not isinstance(spec, dict):
            raise StyleError(f"style: expected an object, got {type(spec).__name__}")
        _reject_unknown(spec, _STYLE_FIELDS, "style")
        colormap = spec.get("colormap")
        if colormap is not None:
            if not isinstance(colormap, str):
                raise StyleError("colormap: expected a name")
            colormaps.lut(colormap)  # raises StyleError naming an unknown map
        channels = spec.get("channels")
        if channels is not None:
            if not isinstance(channels, list) or not channels:
                raise StyleError("channels: expected a non-empty list")
            channels = tuple(_parse_channel(c, f"channels[{i}]") for i, c in enumerate(channels))
        low, high = _bound(spec.get("min"), "min"), _bound(spec.get("max"), "max")
        _check_window(low, high, "max")
        percentiles = spec.get("percentiles", (0.5, 99.5))
        if (
            not isinstance(percentiles, (list, tuple))
            or len(percentiles) != 2
            or not all(_is_number(p) for p in percentiles)
            or not 0 <= percentiles[0] < percentiles[1] <= 100
        ):
            raise StyleError("percentiles: expected [low, high] with 0 <= low < high <= 100")
        return cls(
            channels=channels,
            colormap=colormap,
            min=low,
            max=high,
            gamma=_gamma(spec.get("gamma", 1.0), "gamma"),
            invert=_flag(spec.get("invert", False), "invert"),
            percentiles=(float(percentiles[0]), float(percentiles[1])),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form; ``Style.parse(style.to_dict()) == style``."""
        out: dict[str, Any] = {"gamma": self.gamma, "invert": self.invert, "percentiles": list(self.percentiles)}
        for name in ("colormap", "min", "max"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.channels is not None:
            out["channels"] = [_channel_dict(c) for c in self.channels]
        return out

    @cached_property
    def key(self) -> str:
        """A short stable hash of the style, for cache keys."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def resolve(self, image: Any) -> Renderer:
        """Fix channel indices, auto windows and colours against ``image``."""
        channels = self.channels or tuple(ChannelStyle(i) for i in range(image.channels))
        indices = [_channel_index(c.index, image, f"channels[{i}].index") for i, c in enumerate(channels)]
        if len(channels) > 1 and self.colormap is not None:
            raise StyleError(f"colormap: applies to one channel, but {len(channels)} are selected")
        view: list[np.ndarray] = []  # the thumbnail auto windows measure, read once for every channel
        low_high = [self._window(c, i, image, view) for c, i in zip(channels, indices)]
        single = len(channels) == 1
        tables = []
        for n, c in enumerate(channels):
            if single and c.color is None:
                tables.append(colormaps.lut(self.colormap or "gray").astype(np.uint16))
            else:
                rgb = c.color or _file_color(image, indices[n]) or _hex(PALETTE[n % len(PALETTE)], "color")
                tint = np.array(rgb, dtype=np.float64)
                tables.append(np.rint(np.outer(np.arange(256), tint) / 255).astype(np.uint16))
        windows = tuple(
            _Window(
                index=i,
                low=lo,
                high=hi,
                gamma=c.gamma if c.gamma is not None else self.gamma,
                invert=c.invert if c.invert is not None else self.invert,
            )
            for c, i, (lo, hi) in zip(channels, indices, low_high)
        )
        return Renderer(windows, tuple(tables))

    def _window(self, channel: ChannelStyle, index: int, image: Any, view: list[np.ndarray]) -> tuple[float, float]:
        """The channel's (low, high): set numbers, else 8-bit brightfield's 0/255, else percentiles."""
        bounds = [channel.min if channel.min is not None else self.min,
                  channel.max if channel.max is not None else self.max]  # fmt: skip
        if image.dtype == np.uint8 and not image.metadata.fluorescence:
            bounds = [limit if b is None else b for b, limit in zip(bounds, (0.0, 255.0))]
        low, high = (None if b is None or b == AUTO else float(b) for b in bounds)
        if low is None or high is None:
            if not view:
                view.append(image.get_thumbnail(THUMBNAIL_SIDE))
            auto_low, auto_high = np.percentile(view[0][:, :, index], self.percentiles)
            low = float(auto_low) if low is None else low
            high = float(auto_high) if high is None else high
        return low, (high if high > low else low + 1.0)


@dataclass(frozen=True)
class _Window:
    index: int
    low: float
    high: float
    gamma: float
    invert: bool

    def levels(self, values: np.ndarray) -> np.ndarray:
        """Map raw values to uint8 levels: window, gamma, invert, quantise."""
        t = (values.astype(np.float32) - np.float32(self.low)) / np.float32(self.high - self.low)
        np.clip(t, 0.0, 1.0, out=t)
        if self.gamma != 1.0:
            np.power(t, np.float32(1.0 / self.gamma), out=t)
        if self.invert:
            t = 1.0 - t
        levels: np.ndarray = np.rint(t * 255).astype(np.uint8)
        return levels


class Renderer:
    """A Style resolved against one image: a vectorised (h, w, C) -> (h, w, 3) uint8 function."""

    def __init__(self, windows: tuple[_Window, ...], tables: tuple[np.ndarray, ...]) -> None:
        self.windows = windows
        self.tables = tables
        self._level_luts: dict[tuple[int, np.dtype], np.ndarray] = {}

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        out: np.ndarray | None = None
        for n, window in enumerate(self.windows):
            levels = self._levels(n, pixels[:, :, window.index])
            colored = self.tables[n][levels]
            out = colored if out is None else out + colored
        assert out is not None
        if len(self.windows) > 1:
            np.minimum(out, 255, out=out)
        return out.astype(np.uint8)

    def _levels(self, n: int, values: np.ndarray) -> np.ndarray:
        """Small integer types go through a cached per-value table; others are computed."""
        dtype = values.dtype
        if dtype.kind not in "ui" or dtype.itemsize > 2:
            return self.windows[n].levels(values)
        info = np.iinfo(dtype)
        lut = self._level_luts.get((n, dtype))
        if lut is None:
            lut = self.windows[n].levels(np.arange(info.min, info.max + 1, dtype=np.int64))
            self._level_luts[(n, dtype)] = lut
        return lut[values] if info.min == 0 else lut[values.astype(np.int32) - info.min]


def _file_color(image: Any, index: int) -> tuple[int, int, int] | None:
    """The channel's colour from the file's metadata (OME Channel Color), if any."""
    colors = image.channel_colors
    return colors[index] if index < len(colors) else None


def _channel_index(index: int | str, image: Any, field: str) -> int:
    if isinstance(index, str):
        names = list(image.channel_names)
        if index not in names:
            raise StyleError(f"{field}: no channel named {index!r} (channels: {names})")
        return names.index(index)
    if not 0 <= index < image.channels:
        raise StyleError(f"{field}: channel {index} out of range (image has {image.channels})")
    return index


def _parse_channel(spec: Any, field: str) -> ChannelStyle:
    if isinstance(spec, (int, str)) and not isinstance(spec, bool):
        spec = {"index": spec}
    if not isinstance(spec, dict):
        raise StyleError(f"{field}: expected a channel index, name or object")
    _reject_unknown(spec, _CHANNEL_FIELDS, field)
    index = spec.get("index")
    if isinstance(index, bool) or not isinstance(index, (int, str)) or (isinstance(index, int) and index < 0):
        raise StyleError(f"{field}.index: expected a channel number >= 0 or a channel name")
    low, high = _bound(spec.get("min"), f"{field}.min"), _bound(spec.get("max"), f"{field}.max")
    _check_window(low, high, f"{field}.max")
    color = spec.get("color")
    return ChannelStyle(
        index=index,
        min=low,
        max=high,
        color=None if color is None else _hex(color, f"{field}.color"),
        gamma=None if spec.get("gamma") is None else _gamma(spec["gamma"], f"{field}.gamma"),
        invert=None if spec.get("invert") is None else _flag(spec["invert"], f"{field}.invert"),
    )


def _channel_dict(channel: ChannelStyle) -> dict[str, Any]:
    out: dict[str, Any] = {"index": channel.index}
    for name in ("min", "max", "gamma", "invert"):
        if getattr(channel, name) is not None:
            out[name] = getattr(channel, name)
    if channel.color is not None:
        out["color"] = "#{:02x}{:02x}{:02x}".format(*channel.color)
    return out


def _reject_unknown(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise StyleError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _bound(value: Any, field: str) -> Bound:
    if value is None or value == AUTO:
        return None if value is None else AUTO
    if not _is_number(value):
        raise StyleError(f"{field}: expected a number or 'auto', got {value!r}")
    return float(value)


def _check_window(low: Bound, high: Bound, field: str) -> None:
    if isinstance(low, float) and isinstance(high, float) and high <= low:
        raise StyleError(f"{field}: must be greater than min ({high} <= {low})")


def _gamma(value: Any, field: str) -> float:
    if not _is_number(value) or value <= 0:
        raise StyleError(f"{field}: expected a positive number, got {value!r}")
    return float(value)


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise StyleError(f"{field}: expected true or false, got {value!r}")
    return value


def _hex(value: Any, field: str) -> tuple[int, int, int]:
    text = value.lstrip("#") if isinstance(value, str) else ""
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    try:
        if len(text) != 6:
            raise ValueError
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise StyleError(f"{field}: expected a colour like '#ff00aa', got {value!r}") from None
