"""Run one function over many items on local processes or a ``dask.distributed`` Client, with a rich
progress bar on stderr; results arrive as they complete (so the caller can journal each one)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, TypeVar

from ..io.remote import worker_pool

T = TypeVar("T")
R = TypeVar("R")


def run_all(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int | None = None,
    client: Any = None,
    progress: bool = False,
    label: str = "images",
) -> Iterator[R]:
    """``fn(item)`` for every item, yielded in completion order. ``client``: a dask.distributed
    Client (or a scheduler address); else ``workers`` processes (1: in this process)."""
    with _bar(progress, label, len(items)) as advance:
        for result in _results(fn, items, workers, client):
            advance()
            yield result


def _results(fn: Callable[[T], R], items: Sequence[T], workers: int | None, client: Any) -> Iterator[R]:
    if not items:
        return
    if client is not None:
        yield from _on_dask(fn, items, client)
        return
    count = min(workers or os.cpu_count() or 1, len(items))
    if count <= 1:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(count, **worker_pool()) as pool:
        for future in as_completed([pool.submit(fn, item) for item in items]):
            yield future.result()


def _on_dask(fn: Callable[[T], R], items: Sequence[T], client: Any) -> Iterator[R]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = isinstance(client, str)
    client = Client(client) if own else client  # type: ignore[no-untyped-call]
    try:
        for future in dask_completed(client.map(fn, list(items), pure=False)):  # type: ignore[no-untyped-call]
            yield future.result()
    finally:
        if own:
            client.close()


@contextmanager
def _bar(enabled: bool, label: str, total: int) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
