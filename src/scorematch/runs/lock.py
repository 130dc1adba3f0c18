"""A lock on a run folder: one writer at a time, and no reader while it writes.

``RUN/.lock`` is locked with ``flock`` (POSIX): exclusively by ``train`` for as long as it writes the run, shared by
``sample``, ``eval`` and ``plot`` while they read it. A second writer, or a reader of a run being written, fails at
once with one line naming the holder (its process id, machine, start time and command), which the writer keeps in
the file. The lock is the operating system's: it ends with the process, however the process ends (a crash or a
kill leaves no stale lock). Where ``flock`` does not exist (Windows), the lock is not taken.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "RunLocked", "run_lock"]

LOCK_NAME = ".lock"


class RunLocked(ValueError):
    """The run folder is being written by another process."""


@contextmanager
def run_lock(folder: str | Path, *, shared: bool = False, what: str = "") -> Iterator[None]:
    """Hold the lock of ``folder`` (which must exist) for the ``with`` block: exclusive to write, ``shared`` to
    read (a reader of a folder no writer ever locked takes nothing); :class:`RunLocked` at once if it is held the
    other way."""
    path = Path(folder) / LOCK_NAME
    if fcntl is None or (shared and not path.is_file()):
        yield
        return
    fd = os.open(path, os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(errors="replace").strip() or "another process"
            raise RunLocked(f"{folder} is being written by {holder}: wait for it to finish, or use another "
                            "folder") from None
        if not shared:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"
                         f"{f' ({what})' if what else ''}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock
