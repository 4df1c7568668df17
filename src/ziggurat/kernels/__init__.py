"""Pure pixel arithmetic: the one 2x reduce and the one area resize."""

from .reduce import METHODS, reduce2
from .resize import resize_area

__all__ = ["METHODS", "reduce2", "resize_area"]
