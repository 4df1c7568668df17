"""Shipped test support, like ``zarr.testing``: conformance suites, sample data, local servers."""
