"""Atomic outputs: write into a hidden temporary sibling, rename into place only on success.

An interrupted or failed run leaves no output that looks complete; the temporary is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import ZigguratError


class OutputExistsError(ZigguratError, FileExistsError):
    """The output exists and overwriting was not asked for."""


@contextlib.contextmanager
def atomic_path(out: str | os.PathLike[str], *, directory: bool = False, overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path beside ``out``; on success it replaces ``out``."""
    target = Path(out)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target}: exists (pass overwrite to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.partial-"
    if directory:
        tmp = tempfile.mkdtemp(prefix=prefix, dir=target.parent)
    else:
        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=target.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
