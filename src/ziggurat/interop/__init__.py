"""Bridges to other APIs: dask arrays, the openslide drop-in."""
