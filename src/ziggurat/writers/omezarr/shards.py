"""Write whole Zarr v3 shards straight to files: blosc-encode each inner chunk, append the index.

The array's ``zarr.json`` is the one zarr-python writes for this layout (tests read the output
back with zarr-python); the shard files are written here, each by the one task that owns it, without zarr-python's
read-modify-write of partial shards and its per-chunk async overhead. The layout is zarr's
``sharding_indexed`` with ``[bytes, blosc]`` inner codecs and a ``[bytes, crc32c]`` index at the end:
chunks wholly outside the array and chunks whose bytes are all 0 (the fill value: background) are
marked missing, chunks across its edge are padded with 0.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import google_crc32c
import imagecodecs
import numpy as np

Stored = Callable[[tuple[int, ...]], bytes | None]
Mapper = Callable[[Callable[[np.ndarray], bytes | None], Iterable[np.ndarray]], Iterator[bytes | None]]
_blosc_encode: Callable[..., Any] = imagecodecs.blosc_encode  # takes any buffer, arrays included
MISSING = np.uint64(2**64 - 1)


def array_metadata(shape: Sequence[int], dtype: np.dtype[Any], chunks: Sequence[int], shards: Sequence[int],
                   axes: Sequence[str], codec: tuple[str, int]) -> dict[str, Any]:  # fmt: skip
    """The ``zarr.json`` of a sharded ``[bytes, blosc]`` Zarr v3 array (what zarr-python writes for it).

    ``codec`` is blosc's (compressor, level). Written directly: importing zarr-python costs more
    than building a 14 MB pyramid's levels.
    """
    dtype = np.dtype(dtype)
    cname, clevel = codec
    blosc = {"typesize": dtype.itemsize, "cname": cname, "clevel": clevel,
             "shuffle": "shuffle" if dtype.itemsize > 1 else "noshuffle", "blocksize": 0}  # fmt: skip
    little = {"name": "bytes", "configuration": {"endian": "little"}}
    sharding = {"chunk_shape": list(chunks), "codecs": [little, {"name": "blosc", "configuration": blosc}],
                "index_codecs": [little, {"name": "crc32c"}], "index_location": "end"}  # fmt: skip
    return {
        "zarr_format": 3, "node_type": "array", "shape": list(shape), "data_type": dtype.name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shards)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0, "codecs": [{"name": "sharding_indexed", "configuration": sharding}],
        "attributes": {}, "dimension_names": list(axes), "storage_transformers": [],
    }  # fmt: skip


def write_shard(array_dir: str | os.PathLike[str], index: Sequence[int], block: np.ndarray,
                shape: Sequence[int], chunks: Sequence[int], shards: Sequence[int], codec: tuple[str, int],
                stored: Stored | None = None, mapper: Mapper | None = None) -> int:  # fmt: skip
    """Write shard ``index`` of an array of ``shape`` from ``block`` (the shard clipped to the array).

    ``stored(chunk_index)``, when given, returns each chunk's blosc bytes as the source stores them
    (None: absent), copied through instead of encoding ``block`` again. ``mapper`` (an executor's
    ``map``) encodes the chunks in parallel, for shards too few to keep every core busy.
    Returns the bytes written.
    """
    per_shard = [s // c for s, c in zip(shards, chunks)]
    origin = [i * s for i, s in zip(index, shards)]
    table = np.full((*per_shard, 2), MISSING, dtype="<u8")
    inside = []  # (position in the shard, first voxel) of every chunk that starts inside the array
    for local in morton_order(tuple(per_shard)):
        start = [o + i * c for o, i, c in zip(origin, local, chunks, strict=True)]
        if all(s < n for s, n in zip(start, shape, strict=True)):
            inside.append((local, start))
    if stored is not None:
        encoded: Iterable[bytes | None] = [stored(tuple(s // c for s, c in zip(start, chunks, strict=True)))
                                           for _, start in inside]  # fmt: skip
    else:
        bounds = [zip(start, origin, chunks, shape, strict=True) for _, start in inside]
        views = [block[tuple(slice(s - o, min(s + c, n) - o) for s, o, c, n in b)] for b in bounds]
        cname, clevel = codec

        def encode(chunk: np.ndarray) -> bytes | None:
            # all bytes 0 (= the fill value; -0.0 is not 0 here): leave it missing, as zarr-python does
            if not chunk.view(f"u{chunk.dtype.itemsize}" if chunk.dtype.itemsize in (1, 2, 4, 8) else "u1").any():
                return None
            return _encode(chunk, chunks, cname, clevel)

        encoded = mapper(encode, views) if mapper is not None and len(views) > 1 else map(encode, views)
    pieces: list[bytes] = []
    offset = 0
    for (local, _), data in zip(inside, encoded, strict=True):
        if data is None:
            continue
        table[local] = (offset, len(data))
        pieces.append(data)
        offset += len(data)
    if not pieces:
        return 0
    raw_index = table.tobytes()
    pieces.append(raw_index)
    pieces.append(google_crc32c.value(raw_index).to_bytes(4, "little"))
    path = Path(array_dir, "c", *(str(i) for i in index))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.writelines(pieces)
    return offset + len(raw_index) + 4


@functools.lru_cache(maxsize=64)
def morton_order(per_shard: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Chunk positions of a shard in Morton (Z-curve) order, the order zarr-python writes them in:
    chunks near in space lie near in the file, so a patch's chunks are read with one ``pread``."""
    bits = [max(n - 1, 0).bit_length() for n in per_shard]
    order = []
    for code in range(1 << sum(bits)):
        position, bit = [0] * len(per_shard), 0
        for level in range(max(bits, default=0)):
            for axis, nbits in enumerate(bits):
                if level < nbits:
                    position[axis] |= ((code >> bit) & 1) << level
                    bit += 1
        if all(p < n for p, n in zip(position, per_shard, strict=True)):
            order.append(tuple(position))
    return tuple(order)


def _encode(chunk: np.ndarray, chunks: Sequence[int], cname: str, clevel: int) -> bytes:
    """Blosc bytes of one chunk, padded with 0 to the full chunk shape at the array's edge."""
    if chunk.shape != tuple(chunks):
        padded = np.zeros(tuple(chunks), chunk.dtype)
        padded[tuple(slice(0, n) for n in chunk.shape)] = chunk
        chunk = padded
    shuffle = 1 if chunk.dtype.itemsize > 1 else 0  # blosc byte shuffle; a no-op for bytes
    data: bytes = _blosc_encode(np.ascontiguousarray(chunk), level=clevel, compressor=cname,
                                           shuffle=shuffle, typesize=chunk.dtype.itemsize, numthreads=1)  # fmt: skip
    return data
