"""Bytes, never pixels: positional and coalesced reads, fork-aware pools, atomic outputs."""
