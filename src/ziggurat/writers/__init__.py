"""Images out to storage: DeepZoom trees, OME-Zarr, NIfTI, CT thumbnails (one writer per format)."""
