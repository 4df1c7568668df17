"""Thread pools that survive ``fork``: a forked child (whose copy of a pool has no threads) makes its own."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None
_pool_pid = -1
_pool_lock = threading.Lock()


def decode_pool() -> ThreadPoolExecutor:
    """The process's decode threads (recreated in a forked child, whose copy has no threads)."""
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _pool_lock:
            if _pool is None or _pool_pid != pid:
                _pool = ThreadPoolExecutor(
                    max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="ziggurat-decode"
                )
                _pool_pid = pid
    return _pool
