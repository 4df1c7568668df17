"""writers.omezarr."""
