"""Children that die with their parent, however it dies (Linux ``PR_SET_PDEATHSIG``).

Used for ``serve``'s workers and its private memcached: a process group would only help when the
parent lives to signal it, which SIGKILL or the OOM killer prevent.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Have Linux send ``sig`` to this process when ``parent`` (its parent) exits; no-op elsewhere.

    Linux ties the signal to the parent *thread* that forked: start children from a thread that
    lives as long as the parent (the main thread)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the prctl: no signal will come
        os.kill(os.getpid(), sig)
