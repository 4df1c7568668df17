"""The exception hierarchy: every failure a user can cause has a type and names the file.

Each class also derives from the matching built-in exception, so code written for
openslide or plain Python (``except FileNotFoundError``, ``except ValueError``) keeps working.
"""

from __future__ import annotations


class ZigguratError(Exception):
    """Base class of every error raised by ziggurat."""


class ImageNotFoundError(ZigguratError, FileNotFoundError):
    """The path does not exist."""


class UnsupportedFormatError(ZigguratError, ValueError):
    """No backend can read this file (not an image, or a format we do not know)."""


class CorruptImageError(ZigguratError, ValueError):
    """The file is an image we know but its structure or data is damaged (truncated, bad bytes)."""


class UnsupportedCodecError(ZigguratError, ValueError):
    """The file is readable but stores pixels with a codec we cannot decode."""


class OutOfRangeError(ZigguratError, IndexError):
    """A level, tile, or coordinate lies outside the image."""


class BackendUnavailableError(ZigguratError, ImportError):
    """A backend was asked for by name but its optional dependency is not installed."""


class StyleError(ZigguratError, ValueError):
    """A rendering style is malformed; the message names the bad field."""


class EncodingError(ZigguratError, ValueError):
    """An output encoding is unknown or its parameters are invalid."""


class CacheConfigError(ZigguratError, ValueError):
    """A cache URL or its options cannot be understood."""


class AxesError(ZigguratError, TypeError):
    """The image's axes do not allow this operation (a slide call on a volume, a plane of a slide)."""


class UnsupportedSchemeError(ZigguratError, ValueError):
    """A URL names a scheme ziggurat cannot read (only s3://, http:// and https:// are remote)."""


class RemoteStorageError(ZigguratError, OSError):
    """Object storage failed after the bounded retries (server error, timeout, short response, denied)."""


class ResourceLimitError(ZigguratError, MemoryError):
    """A read would need more memory or work than the budget allows (``ZIGGURAT_MAX_BYTES``)."""
