"""Atomic outputs: write into a hidden temporary sibling, put it in place in one step on success.

Guarantees, whatever moment the process dies at (SIGKILL included):

- the output is the previous complete one or the new complete one, never a mix: a file or folder
  replaces the old one with ``renameat2(RENAME_EXCHANGE)`` (the old one is then deleted), so there
  is no moment without an output; outputs of several paths (a DeepZoom ``OUT.dzi`` +
  ``OUT_files``) commit through a journal that the next writer rolls forward;
- without ``overwrite`` the existence check holds until the final rename
  (``RENAME_NOREPLACE``): an output that appeared during the run is never replaced;
- a lock (``.NAME.lock`` beside the output, ``flock``) makes a second concurrent writer of the
  same output fail at once with :class:`OutputLockedError`;
- temporaries (``.NAME.partial-PID-…``) of runs that died are removed by the next writer of that
  output, which holds the lock, so it never removes a live writer's temporaries.

Where ``renameat2`` is missing (not Linux, or a file system without it) the same steps fall back to
a rename of the old output aside, then the new one into place.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ZigguratError

_RENAME_NOREPLACE, _RENAME_EXCHANGE, _AT_FDCWD = 1, 2, -100
_renameat2: Any
try:
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
except (AttributeError, OSError):  # not glibc / not Linux
    _renameat2 = None


class OutputExistsError(ZigguratError, FileExistsError):
    """The output exists and overwriting was not asked for."""


class OutputLockedError(ZigguratError, BlockingIOError):
    """Another writer is writing the same output right now."""


def _rename2(src: str | Path, dst: str | Path, flags: int) -> bool:
    """``renameat2`` with ``flags``; False when the system cannot do it (then the caller falls back)."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    if err == errno.EEXIST:
        raise OutputExistsError(f"{dst}: exists (it appeared while this run was writing; pass overwrite to replace it)")
    raise OSError(err, os.strerror(err), str(dst))


def _remove(path: str | Path) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


@contextlib.contextmanager
def output_lock(out: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the writer's lock of ``out`` (``.NAME.lock`` beside it); OutputLockedError if taken.

    The lock file is removed on release while still locked; a writer that locked a file someone
    removed meanwhile sees the path now names another inode and tries again (the classic
    unlink-safe lock file), so the folder keeps no lock files between runs."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.parent / f".{target.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(f"{target}: another writer is writing it now") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)  # releases the lock


def clean_stale(out: str | os.PathLike[str]) -> None:
    """Remove the temporaries of earlier runs that died (call holding :func:`output_lock`)."""
    target = Path(out)
    for stale in target.parent.glob(f".{_glob_escape(target.name)}.partial-*"):
        _remove(stale)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def _temporary(target: Path, directory: bool) -> str:
    prefix = f".{target.name}.partial-{os.getpid()}-"
    if directory:
        return tempfile.mkdtemp(prefix=prefix, dir=target.parent)
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


def _put(tmp: str, target: Path, overwrite: bool) -> str | None:
    """Move ``tmp`` to ``target`` in one step: exchange with an old output, or a rename that refuses
    to replace one that appeared meanwhile. Returns where the old output now is (to delete), if any."""
    if _lexists(target):
        if not overwrite:
            raise OutputExistsError(f"{target}: exists (it appeared while this run was writing; pass overwrite)")
        if _rename2(tmp, target, _RENAME_EXCHANGE):
            return tmp  # now the old output
        aside = f"{tmp}.old"
        os.replace(target, aside)
        os.replace(tmp, target)
        return aside
    if not _rename2(tmp, target, _RENAME_NOREPLACE):
        if _lexists(target) and not overwrite:
            raise OutputExistsError(f"{target}: exists (it appeared while this run was writing; pass overwrite)")
        os.replace(tmp, target)
    return None


@contextlib.contextmanager
def atomic_path(
    out: str | os.PathLike[str], *, directory: bool = False, overwrite: bool = True, lock: bool = True
) -> Iterator[str]:
    """Yield a temporary path beside ``out``; on success it replaces ``out`` in one step.

    ``lock=False`` is for many small files written under one lock the caller holds (thumbnails)."""
    target = Path(out)
    if _lexists(target) and not overwrite:
        raise OutputExistsError(f"{target}: exists (pass overwrite to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(target) if lock else contextlib.nullcontext():
        if lock:
            clean_stale(target)
        tmp = _temporary(target, directory)
        try:
            yield tmp
            old = _put(tmp, target, overwrite)
            if old is not None:
                _remove(old)
        except BaseException:
            _remove(tmp)
            raise


# -- outputs of several paths -------------------------------------------------------------------
def _journal(last: Path) -> Path:
    return last.parent / f".{last.name}.commit"


def commit_group(pairs: Sequence[tuple[str, Path]], overwrite: bool) -> None:
    """Put several temporaries in place, the last pair's target last (its presence means "complete"):
    the last target is removed first, the others are put in place, then the last one. A journal
    written before the first step lets :func:`recover_group` finish an interrupted commit."""
    last = pairs[-1][1]
    journal = _journal(last)
    plan = [{"tmp": tmp, "target": str(target), "inode": os.stat(tmp).st_ino} for tmp, target in pairs]
    with open(f"{journal}.tmp", "w", encoding="utf-8") as fh:
        json.dump(plan, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(f"{journal}.tmp", journal)
    if _lexists(last):
        if not overwrite:
            raise OutputExistsError(f"{last}: exists (it appeared while this run was writing; pass overwrite)")
        _remove(last)  # from here until the end there is no descriptor: nothing looks complete
    _roll_forward(plan, overwrite)
    journal.unlink()


def _roll_forward(plan: list[dict[str, object]], overwrite: bool) -> None:
    """Put every step's temporary in place (those not there yet), then delete the old outputs."""
    old: list[str] = []
    for step in plan:
        tmp, target, inode = str(step["tmp"]), Path(str(step["target"])), step["inode"]
        if _lexists(target) and os.stat(target).st_ino == inode:  # in place already
            old.append(tmp)  # (the old output it was exchanged with, if still there)
        elif os.path.lexists(tmp):
            old.append(_put(tmp, target, overwrite) or "")
    for path in old:
        if path:
            _remove(path)


def recover_group(last: str | os.PathLike[str]) -> None:
    """Finish the commit of a run that died half-way through :func:`commit_group` (holding the lock)."""
    journal = _journal(Path(last))
    if journal.exists():
        try:
            plan = json.loads(journal.read_text(encoding="utf-8"))
        except ValueError:  # died while writing the journal: the commit had not begun
            plan = None
        if plan is not None:
            _roll_forward(plan, overwrite=True)
        journal.unlink()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{journal}.tmp")


@contextlib.contextmanager
def atomic_group(outs: Sequence[tuple[str | os.PathLike[str], bool]], *, overwrite: bool = True) -> Iterator[list[str]]:
    """:func:`atomic_path` for an output of several paths, ``(path, is_directory)`` each; the last
    one is the marker of a complete output (it is put in place last, removed first)."""
    targets = [Path(p) for p, _ in outs]
    last = targets[-1]
    last.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(last):
        recover_group(last)
        for target in targets:
            if _lexists(target) and not overwrite:
                raise OutputExistsError(f"{target}: exists (pass overwrite to replace it)")
            clean_stale(target)
        tmps: list[str] = []
        try:
            for target, (_, directory) in zip(targets, outs):
                tmps.append(_temporary(target, directory))
            yield tmps
            commit_group(list(zip(tmps, targets)), overwrite)
        except BaseException:
            for tmp in tmps:
                _remove(tmp)
            raise
