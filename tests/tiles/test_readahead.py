"""RowReadAhead: reads the next tile of a row only while requests walk the row, and keeps errors."""

from __future__ import annotations

import threading

import pytest

from ziggurat.tiles.readahead import RowReadAhead


class Reads:
    def __init__(self, bad: tuple[int, int, int] | None = None) -> None:
        self.calls: list[tuple[tuple[int, int, int], str]] = []
        self.bad = bad
        self.lock = threading.Lock()

    def __call__(self, level: int, col: int, row: int) -> tuple[int, int, int]:
        with self.lock:
            self.calls.append(((level, col, row), threading.current_thread().name))
        if (level, col, row) == self.bad:
            raise ValueError("damaged tile")
        return level, col, row


def test_walking_a_row_reads_ahead() -> None:
    reads = Reads()
    ahead = RowReadAhead(reads, lambda level: 4)
    assert [ahead.get(3, c, 1) for c in range(4)] == [(3, c, 1) for c in range(4)]
    by_thread = dict(reads.calls)
    assert len(reads.calls) == 4  # each tile read once
    assert by_thread[(3, 0, 1)] == by_thread[(3, 1, 1)] == "MainThread"  # two steps make a walk...
    assert by_thread[(3, 2, 1)].startswith("ziggurat-readahead")  # ...then the next is read ahead
    assert by_thread[(3, 3, 1)].startswith("ziggurat-readahead")  # the last column: nothing past it


def test_random_access_reads_nothing_extra() -> None:
    reads = Reads()
    ahead = RowReadAhead(reads, lambda level: 100)
    for address in [(5, 10, 3), (5, 40, 7), (4, 2, 2), (5, 11, 4), (5, 9, 4)]:
        assert ahead.get(*address) == address
    assert [a for a, _ in reads.calls] == [(5, 10, 3), (5, 40, 7), (4, 2, 2), (5, 11, 4), (5, 9, 4)]
    # a guess not taken is dropped: the walk turned, and the turned-to tile is read afresh
    reads.calls.clear()
    for address in [(1, 0, 0), (1, 1, 0), (1, 0, 1)]:
        assert ahead.get(*address) == address
    assert [a for a, _ in reads.calls if a == (1, 0, 1)] == [(1, 0, 1)]


def test_a_failed_guess_raises_for_its_tile() -> None:
    ahead = RowReadAhead(Reads(bad=(2, 2, 0)), lambda level: 5)
    ahead.get(2, 0, 0)
    ahead.get(2, 1, 0)  # starts reading (2, 2, 0) ahead, which fails
    with pytest.raises(ValueError, match="damaged"):
        ahead.get(2, 2, 0)
