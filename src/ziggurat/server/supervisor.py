"""Running ``ziggurat serve`` so that it always stops, and takes everything it started with it.

- **Bounded SIGTERM/SIGINT.** uvicorn waits for in-flight responses for ever by default (a client
  that stops reading holds the shutdown). Here it waits ``stop_timeout`` seconds, then cancels
  them. A call blocking the event loop (a hung file system, say) stops even that, so a
  one-process server not gone a second later ends itself (``os._exit(1)``, from a timer thread),
  and the supervisor of N workers SIGKILLs any worker still alive at that point.
- **Workers die with their supervisor however it dies** (SIGKILL, OOM killer, a crash): each
  worker asks for :func:`.lifetime.die_with_parent` as it loads the app (the first code of ours
  in the spawned process); the private memcached gets the same through ``preexec_fn``.
- **Slow clients** get the header/body deadlines of :class:`.protocol.GuardedHttpProtocol`; the
  connection limit (``limit_concurrency``: a 503 beyond it), keep-alive timeout and listen backlog
  are uvicorn's own settings, given sane defaults by the CLI.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from .lifetime import die_with_parent
from .limits import DEFAULT, Limits
from .protocol import GuardedHttpProtocol

#: after the graceful wait, how long cancelled requests may take before the process is ended
FORCE_AFTER = 1.0
logger = logging.getLogger("uvicorn.error")


class ServeConfig(uvicorn.Config):
    """uvicorn's Config with ``limits`` applied (its own settings, the protocol's deadlines) and
    the supervisor's pid (set by :func:`run` for workers). Picklable: uvicorn sends it to each
    spawned worker."""

    def __init__(self, app: Any, limits: Limits = DEFAULT, **kwargs: Any) -> None:
        # uvicorn types both timeouts as int but only hands them to call_later / wait_for
        super().__init__(app, http=GuardedHttpProtocol, timeout_keep_alive=limits.keep_alive,  # type: ignore[arg-type]
                         limit_concurrency=limits.max_connections, backlog=limits.backlog,
                         timeout_graceful_shutdown=limits.stop_timeout, **kwargs)  # type: ignore[arg-type]  # fmt: skip
        self.limits = limits
        self.supervisor: int | None = None

    def load(self) -> None:
        if self.supervisor is not None and os.getpid() != self.supervisor:
            die_with_parent(self.supervisor)
        super().load()


class GuardedServer(uvicorn.Server):
    """A uvicorn Server that ends its process when a graceful stop overruns ``stop_timeout``."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            limit = _stop_timeout(self.config) + FORCE_AFTER
            timer = threading.Timer(limit, _force_exit, (limit,))
            timer.daemon = True
            timer.start()
        super().handle_exit(sig, frame)


def _stop_timeout(config: uvicorn.Config) -> float:
    limits: Limits = getattr(config, "limits", DEFAULT)
    return limits.stop_timeout


def _force_exit(limit: float) -> None:
    logger.error("still stopping %.1f s after the signal (the event loop is blocked?): exiting now", limit)
    logging.shutdown()
    os._exit(1)


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor, whose stop waits a bounded time before SIGKILLing a worker."""

    def join_all(self) -> None:
        deadline = time.monotonic() + _stop_timeout(self.config) + FORCE_AFTER
        for worker in self.processes:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in self.processes:
            if worker.process.is_alive():
                logger.error("worker %s did not stop in time: killed", worker.pid)
                worker.process.kill()
                worker.process.join()


def run(config: ServeConfig) -> None:
    """Serve until SIGTERM/SIGINT: in this process, or with ``config.workers`` spawned workers."""
    if config.workers > 1:
        config.supervisor = os.getpid()
        Supervisor(config, sockets=[config.bind_socket()]).run()
        return
    server = GuardedServer(config)
    try:
        server.run()
    except KeyboardInterrupt:  # SIGINT, re-raised by uvicorn once it has stopped
        pass
    if not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE; it has logged why
