"""``ziggurat serve``: an ASGI tile server and OpenSeadragon viewer over a scanned catalog."""

from .app import create_app

__all__ = ["create_app"]
