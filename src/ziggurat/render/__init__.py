"""Rendering: styles turn raw pixels into 8-bit RGB, encoders turn arrays into bytes."""

from .encode import encode, encoding_for
from .style import Renderer, Style

__all__ = ["Renderer", "Style", "encode", "encoding_for"]
