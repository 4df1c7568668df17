"""Typed byte ranges and the coalescing plan: which neighbouring ranges one read should fetch.

Pure arithmetic, shared by every byte store (local files now; a remote store plugs in the same way):
ranges whose gap is at most ``gap`` bytes are merged into one read, since one larger read costs
less than several small ones (a syscall locally, a round trip remotely).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

COALESCE_GAP = 64 * 1024


class ByteRange(NamedTuple):
    """``length`` bytes from ``offset`` (a tuple, so it costs nothing in hot loops)."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


class Read(NamedTuple):
    """One read of ``span`` that serves the requested ranges at ``members`` (their indices)."""

    span: ByteRange
    members: tuple[int, ...]


def coalesce(ranges: Sequence[tuple[int, int]], gap: int = COALESCE_GAP) -> list[Read]:
    """The reads that fetch every range, neighbours (gap <= ``gap``) merged; in file order."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    reads: list[Read] = []
    members: list[int] = []
    start = end = 0
    for i in order:
        offset, length = ranges[i]
        if members and offset - end <= gap:
            members.append(i)
            end = max(end, offset + length)
            continue
        if members:
            reads.append(Read(ByteRange(start, end - start), tuple(members)))
        members, start, end = [i], offset, offset + length
    if members:
        reads.append(Read(ByteRange(start, end - start), tuple(members)))
    return reads
