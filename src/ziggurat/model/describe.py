"""What ``ziggurat info`` and the server's ``/api/images/{id}`` say of an Image, as JSON-able data."""

from __future__ import annotations

from typing import Any

from ..sources.base import SLIDE_AXES
from .image import Image


def describe(image: Image) -> dict[str, Any]:
    """Everything known about ``image``: the slide facts for ``yxc`` slides, axes and geometry otherwise."""
    return describe_slide(image) if image.axes == SLIDE_AXES else describe_array(image)


def describe_slide(image: Image) -> dict[str, Any]:
    """Everything ``info`` reports, as JSON-able data."""
    return {
        "path": image.path,
        "format": image.format,
        "backend": image.backend,
        "dimensions": list(image.dimensions),
        "dtype": str(image.dtype),
        "channels": image.channels,
        "channel_names": image.channel_names,
        "mpp": list(image.mpp) if image.mpp else None,
        "objective_power": image.objective_power,
        "levels": [
            {
                "index": lvl.index,
                "width": lvl.size[0],
                "height": lvl.size[1],
                "downsample": lvl.downsample,
                "tile_width": lvl.tile_shape[1],
                "tile_height": lvl.tile_shape[0],
            }
            for lvl in image.levels
        ],
        "associated_images": {name: list(arr.shape) for name, arr in image.associated_images.items()},
        "properties": image.properties,
    }


def describe_array(volume: Image) -> dict[str, Any]:
    """What ``info`` reports for an image that is not a ``yxc`` slide (volumes, stacks, arrays)."""
    facts: dict[str, Any] = {
        "path": volume.path,
        "format": volume.format,
        "backend": volume.backend,
        "kind": "volume" if volume.is_volume else "array",
        "axes": list(volume.axes),
        "shape": list(volume.shape),
        "dtype": str(volume.dtype),
        "scale": list(volume.scale) if volume.scale else None,
        "units": list(volume.units),
        "levels": [{"index": lvl.index, "shape": list(lvl.shape), "chunks": list(lvl.chunks)} for lvl in volume.levels],
    }
    if volume.is_volume:
        facts["spacing_mm"] = list(volume.spacing)
        facts["affine"] = volume.affine.tolist()
    return facts
