"""The installed distribution's version (one source of truth: pyproject.toml)."""

from importlib import metadata

__version__ = metadata.version("ziggurat")
