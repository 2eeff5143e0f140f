"""Refuse a database that cannot be the record it should be, before anything is written to it.

A 0-byte, truncated, overwritten or corrupt file, or a missing one where positionbot kept its
record before (its lock file is still there), would otherwise start as an empty record: trades
forgotten, the bot's stops left on the exchange untracked, trade ids from 1 again. Such a file
is refused with what to do; ``fresh=True`` (``positionbot run --fresh-db``) moves it aside,
never deletes it, and starts a new record.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from positionbot.storage.lock import DatabaseLock
from positionbot.storage.schema import migrate

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
_PAGE_HEADER = 100  # the smallest valid database file holds at least this header
_COMPANIONS = ("-wal", "-shm", "-journal")

Configure = Callable[[aiosqlite.Connection], Awaitable[None]]


class DatabaseRefusedError(RuntimeError):
    """The database file is missing, empty, truncated or corrupt; its message says what to do."""


def _advice(path: Path) -> str:
    return (f"restore {path} from your backup, or start a new record on purpose with "
            "`positionbot run --fresh-db` (the old file is kept beside it, renamed; the bot's "
            "orders left on the exchange are adopted or cancelled and reported at start)")


def file_problem(path: Path, *, expected: bool) -> str | None:
    """What is wrong with the file at ``path`` (None: usable, or rightly absent)."""
    if not path.exists():
        return "is missing, but positionbot kept its record there before" if expected else None
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if size < _PAGE_HEADER or header != SQLITE_HEADER:
        return "is not an SQLite database (truncated or overwritten)"
    return None


def refuse_or_set_aside(path: Path, problem: str, *, fresh: bool) -> None:
    """Raise ``DatabaseRefusedError``; with ``fresh``, move the file (and its journal) aside."""
    if not fresh:
        raise DatabaseRefusedError(f"database {path} {problem}: {_advice(path)}")
    if not path.exists():
        log.warning("database %s %s: starting a new record (--fresh-db)", path, problem)
        return
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.refused-{stamp}")
    path.rename(aside)
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(aside.with_name(aside.name + suffix))
    log.warning("database %s %s: moved to %s; starting a new record (--fresh-db)",
                path, problem, aside)


def lock_and_check(path: Path, *, fresh: bool) -> tuple[Path, DatabaseLock]:
    """Lock the database's real file (a symlink must not get past its target's lock), then
    refuse or set aside a bad file: the resolved path and the lock."""
    path = path.resolve()
    expected = path.with_name(path.name + ".lock").exists()
    try:
        lock = DatabaseLock.acquire(path)
    except OSError as err:
        raise DatabaseRefusedError(f"cannot lock database {path}: {err.strerror or err}; check "
                                   "that its directory exists and is writable by this user"
                                   ) from None
    try:
        problem = file_problem(path, expected=expected)
        if problem is not None:
            refuse_or_set_aside(path, problem, fresh=fresh)
        lock.hold_file(path)
    except BaseException:
        lock.release()
        raise
    return path, lock


async def connect_checked(path: Path, configure: Configure, *, fresh: bool) -> aiosqlite.Connection:
    """Open, check (``PRAGMA quick_check``), configure and migrate; a corrupt file is refused
    (or with ``fresh`` set aside once and a new one opened)."""
    for attempt in (1, 2):
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as err:
            raise DatabaseRefusedError(f"cannot open database {path}: {err}; check that the "
                                       "file and its directory are writable by this user") from None
        try:
            problem = await _quick_check(db)
            if problem is None:
                await configure(db)
                await migrate(db, path)
                return db
        except sqlite3.DatabaseError as err:
            await db.close()
            if isinstance(err, sqlite3.OperationalError) and "readonly" in str(err).lower():
                raise DatabaseRefusedError(f"cannot write database {path}: {err}; check that "
                                           "the file and its directory are writable by this "
                                           "user") from None
            problem = f"is corrupt ({err})"
        except BaseException:
            await db.close()
            raise
        else:
            await db.close()
        if attempt == 2:
            break
        refuse_or_set_aside(path, problem, fresh=fresh)
    raise DatabaseRefusedError(f"database {path} could not be started fresh")


async def _quick_check(db: aiosqlite.Connection) -> str | None:
    rows = list(await db.execute_fetchall("PRAGMA quick_check"))
    verdict = ", ".join(str(r[0]) for r in rows[:3])
    return None if verdict == "ok" else f"failed its integrity check ({verdict})"
