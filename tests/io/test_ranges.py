"""Byte ranges: the coalescing plan (hand-computed) and coalesced reads equal plain slicing of the file."""

from __future__ import annotations

import os
import random
from pathlib import Path

from ziggurat.io.files import RandomAccessFile
from ziggurat.io.ranges import ByteRange, Read, coalesce


def test_neighbours_merge_and_far_ranges_do_not() -> None:
    ranges = [(1000, 10), (0, 100), (150, 50), (100_000, 5)]
    assert coalesce(ranges, gap=64) == [
        Read(ByteRange(0, 200), (1, 2)),  # 100..150 is a 50-byte gap: one read
        Read(ByteRange(1000, 10), (0,)),  # 800 bytes past the last: its own read
        Read(ByteRange(100_000, 5), (3,)),
    ]
    assert coalesce([], gap=64) == []
    assert coalesce([(5, 10), (7, 2)], gap=0) == [Read(ByteRange(5, 10), (0, 1))]  # overlap


def test_read_ranges_equal_slices(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    rng = random.Random(1)
    ranges = [(rng.randrange(0, 290_000), rng.randrange(0, 9000)) for _ in range(60)]
    file = RandomAccessFile(str(path))
    assert file.read_ranges(ranges) == [data[o : o + n] for o, n in ranges]
