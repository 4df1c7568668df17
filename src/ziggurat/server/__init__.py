"""``ziggurat serve``: an ASGI tile server and OpenSeadragon viewer over a scanned catalog.

``create_app`` is imported on first use, so ``ziggurat.server.limits`` (which the CLI reads
while it builds its parser) loads without starlette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
