"""One `hds demo` per data directory: an exclusive ``flock`` on ``<data dir>/demo.lock``.

The lock is taken before anything in the directory is read, written or deleted, and the kernel releases it
when the process ends, however it ends (``kill -9`` included): a stale lock file never blocks a new demo.
The file holds the owner's pid, only to name it in the message a second demo prints."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import IO

LOCK_NAME = "demo.lock"


class DataDirInUse(RuntimeError):
    """Another process holds the data directory, or the port the demo needs is taken."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> "DataDirLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the life of the demo
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip()
            handle.close()
            who = f" (pid {owner})" if owner.isdigit() else ""
            raise DataDirInUse(f"{self.path.parent} is in use by another hds demo{who}; stop it, or give this one "
                               "its own directory with --data-dir or HDS_DATA_DIR") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> "DataDirLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def check_port_free(host: str, port: int) -> None:
    """Raise ``DataDirInUse`` when ``host:port`` cannot be bound (another demo or server listens there)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise DataDirInUse(f"port {port} on {host} is already in use; choose another with --port") from None
