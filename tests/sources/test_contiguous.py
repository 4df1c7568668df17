"""ContiguousArray (pread reads of uncompressed pixels) returns NumPy's boxes of the stored array."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from ziggurat.errors import CorruptImageError
from ziggurat.io.files import RandomAccessFile
from ziggurat.io.opening import ByteFile
from ziggurat.sources.contiguous import ContiguousArray


class RangesOnly:
    """The same file seen as a remote one is: ``read_ranges`` only, no ``readinto``."""

    def __init__(self, file: RandomAccessFile) -> None:
        self.path, self.size, self._file = file.path, file.size, file

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return self._file.read_ranges(ranges)


@pytest.mark.parametrize("dtype", ["<u2", ">i4", "u1", ">f8"])
def test_random_boxes_equal_numpy(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(5)
    stored = rng.integers(0, 200, (5, 3, 37, 29, 2)).astype(dtype)
    path = tmp_path / "raw.bin"
    path.write_bytes(b"x" * 13 + stored.tobytes())
    file = RandomAccessFile(str(path))
    remote = cast(ByteFile, RangesOnly(file))
    for reader in (
        ContiguousArray(file, 13, stored.shape, stored.dtype),
        ContiguousArray(remote, 13, stored.shape, stored.dtype),
    ):
        boxes = [tuple((0, n) for n in stored.shape), ((1, 2), (0, 3), (0, 37), (0, 29), (0, 2))]
        for _ in range(40):
            lo = [int(rng.integers(0, n)) for n in stored.shape]
            boxes.append(tuple((a, int(rng.integers(a, n + 1))) for a, n in zip(lo, stored.shape)))
        for box in boxes:
            got = reader.read(box)
            assert got.dtype == stored.dtype.newbyteorder("=")
            assert np.array_equal(got, stored[tuple(slice(a, b) for a, b in box)]), box


def test_a_file_too_short_for_its_pixels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(bytes(100))
    with pytest.raises(CorruptImageError, match=r"short\.bin.*needs 108 bytes"):
        ContiguousArray(RandomAccessFile(str(path)), 8, (10, 10), np.dtype("u1"))
