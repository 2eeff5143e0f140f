"""The single-owner lock on a database file.

An exclusive ``flock`` on ``<db>.lock`` is held for as long as the store is open. The kernel
drops it when the process dies, however it dies, so a crash never leaves a stale lock behind.
The owner's pid, written into the file and erased on release, tells the next owner whether its
predecessor died without closing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DatabaseInUseError(RuntimeError):
    """Another positionbot process has the database open."""


class DatabaseLock:
    """An acquired lock; ``release`` is idempotent."""

    def __init__(self, lock_path: Path, fd: int, *, owner_died: bool = False) -> None:
        self.lock_path = lock_path
        self.owner_died = owner_died  # the previous owner never released: it crashed or was killed
        self._fd: int | None = fd
        self._db_fd: int | None = None

    @classmethod
    def acquire(cls, db_path: Path) -> DatabaseLock:
        """Lock ``db_path`` for this process or raise ``DatabaseInUseError`` at once."""
        db_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = db_path.with_name(db_path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(fd)
            os.close(fd)
            raise DatabaseInUseError(
                f"database {db_path} is in use: another positionbot process{owner} owns it "
                f"(lock file {lock_path}); stop that process or choose another storage path"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        owner_died = bool(_read_owner(fd))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(lock_path, fd, owner_died=owner_died)

    def hold_file(self, db_path: Path) -> None:
        """Lock the database file itself too (creating it empty if absent): another name for
        it, a hard link, has its own lock file but shares this one."""
        fd = os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.release()
            raise DatabaseInUseError(
                f"database {db_path} is in use: another positionbot process owns it under "
                "another name (a hard link); stop that process or choose another storage path"
            ) from None
        self._db_fd = fd

    def release(self) -> None:
        if self._db_fd is not None:
            os.close(self._db_fd)
            self._db_fd = None
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def _read_owner(fd: int) -> str:
    """`` (pid N)`` as the owner wrote it into the lock file, or nothing if it is unreadable."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""
