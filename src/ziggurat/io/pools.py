"""Thread pools that survive ``fork``: a forked child (whose copy of a pool has no threads) makes its own."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pools: dict[str, tuple[int, ThreadPoolExecutor]] = {}  # name -> (pid that made it, pool)
_pools_lock = threading.Lock()


def thread_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """This process's pool called ``name`` (recreated in a forked child, whose copy has no threads)."""
    pid = os.getpid()
    made = _pools.get(name)
    if made is None or made[0] != pid:
        with _pools_lock:
            made = _pools.get(name)
            if made is None or made[0] != pid:
                made = _pools[name] = (pid, ThreadPoolExecutor(workers, thread_name_prefix=f"ziggurat-{name}"))
    return made[1]


def decode_pool() -> ThreadPoolExecutor:
    """The process's decode threads."""
    return thread_pool("decode", max(2, os.cpu_count() or 2))
