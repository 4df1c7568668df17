"""Loaders whose every batch is one batched read: worker processes with shared-memory batches, or
threads of this process.

``DataLoader(dataset, batch_size=B)`` already reads each batch in one call (``__getitems__``) but then
collates, copying every pixel once more (into shared memory inside a worker). :func:`loader` hands the
dataset whole batches of indices instead (``batch_size=None`` under a ``BatchSampler``), so the batch
tensor is decoded into once — in shared memory when a worker made it — and never copied. With
``threads=N`` there are no processes at all: N threads of this process each read a batch (the decoders
release the GIL), with no pickling, no start-up and nothing to share.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler

from .base import PatchDataset


def loader(dataset: PatchDataset, batch_size: int, *, sampler: Sampler[int] | Iterable[int] | None = None,
           shuffle: bool = False, drop_last: bool = False, num_workers: int = 0, threads: int = 0,
           **options: Any) -> Iterable[dict[str, Any]]:  # fmt: skip
    """Batches of ``dataset`` (dicts as ``default_collate`` makes them) in the order of ``sampler``
    (e.g. a :class:`~ziggurat.ml.ShardSampler`; else sequential, or random with ``shuffle``).
    ``num_workers`` and ``options`` go to the DataLoader; ``threads > 0`` reads in that many threads
    of this process instead (``num_workers`` must then be 0)."""
    order = sampler if sampler is not None else RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    batches = BatchSampler(order, batch_size, drop_last)
    if threads:
        if num_workers or options:
            raise ValueError("threads= reads in this process: it takes no num_workers or DataLoader options")
        return ThreadLoader(dataset, batches, threads)
    return DataLoader(dataset, sampler=batches, batch_size=None, num_workers=num_workers, **options)


class ThreadLoader:
    """Batches read by ``threads`` threads of this process, up to ``2 x threads`` ahead, in order."""

    def __init__(self, dataset: PatchDataset, batches: Iterable[list[int]], threads: int) -> None:
        self.dataset = dataset
        self.batches = batches
        self.threads = threads

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        epoch = self.dataset.epoch
        with ThreadPoolExecutor(self.threads, thread_name_prefix="ziggurat-loader") as pool:
            ahead: deque[Future[dict[str, Any]]] = deque()
            for indices in self.batches:
                ahead.append(pool.submit(self.dataset.batch, indices, epoch))
                if len(ahead) > 2 * self.threads:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
