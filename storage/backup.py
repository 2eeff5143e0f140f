"""Online backup of a live database with SQLite's backup API (safe while the bot writes).

The copy is written beside its destination under a temporary name and renamed into place, so
a backup cut short never leaves a truncated file under the real name. The running bot's file
lock is not taken: the backup is a reader like any other.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "positionbot-"
_PAGES_PER_STEP = 1024  # copy in steps so the bot's writes are never held up for long


class BackupError(RuntimeError):
    """The backup could not be made; the message says why."""


def backup_target(out: Path, now: datetime | None = None) -> Path:
    """``out`` itself, or a timestamped file inside it when it is a directory."""
    if out.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return out / f"{PREFIX}{stamp}.db"
    return out


def backup_database(source: Path, out: Path, *, keep: int | None = None) -> Path:
    """Copy ``source`` to ``out`` (a file, or a directory for a timestamped file); with
    ``keep``, delete all but the newest ``keep`` timestamped backups in that directory."""
    if not source.is_file():
        raise BackupError(f"no database at {source} — check [storage] path")
    target = backup_target(out)
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory")
    partial = target.with_name(f".{target.name}.partial")
    try:
        src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=_PAGES_PER_STEP)
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
        os.replace(partial, target)
    except sqlite3.Error as err:
        raise BackupError(f"backup of {source} failed: {err}") from None
    finally:
        partial.unlink(missing_ok=True)
    if keep is not None and out.is_dir():
        _prune(out, keep)
    return target


def _prune(directory: Path, keep: int) -> None:
    stamped = sorted(directory.glob(f"{PREFIX}*.db"), key=lambda p: p.name, reverse=True)
    for old in stamped[keep:]:
        old.unlink()
