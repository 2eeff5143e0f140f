"""Atomic commits, crashes, the single-owner lock and schema migrations, on real files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.storage import SCHEMA_VERSION, DatabaseInUseError, SchemaVersionError, Store, WriteBatch
from positionbot.tracker.core.models import SyncState
from tests.storage.factories import (
    T0,
    db_path,
    make_event,
    make_notice,
    make_trade,
    run_python,
    start_python,
)

PRELUDE = """
import asyncio, os, sys
from positionbot.storage import Store, WriteBatch
from positionbot.storage.store import fixed_recipients
from tests.storage.factories import make_event, make_notice, make_trade
path = sys.argv[1]
"""


def batch_for(trade_id: int, seq: int = 1) -> WriteBatch:
    return WriteBatch(
        "main",
        trades=[make_trade(trade_id, event_seq=seq)],
        events=[make_event(trade_id, seq)],
        notices=[make_notice(f"main:{trade_id}:{seq}", trade_id=trade_id)],
    )


async def test_a_batch_failing_midway_writes_nothing(store: Store) -> None:
    await store.commit(batch_for(1))
    clashing = WriteBatch(
        "main",
        trades=[make_trade(1, size=Decimal("9")), make_trade(2)],
        events=[make_event(2, 1), make_event(1, 1)],  # (1, 1) exists already
        notices=[make_notice("main:2:1", trade_id=2)],
        sync_state=SyncState("main", last_success_at=T0),
    )

    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        await store.commit(clashing)

    assert await store.get_trade(2) is None
    unchanged = await store.get_trade(1)
    assert unchanged is not None and unchanged.size == Decimal("0.5")
    assert await store.events_for_trade(2) == []
    assert await store.outbox_backlog() == 1
    assert await store.get_sync_state("main") == SyncState("main")
    await store.commit(batch_for(2))
    assert [t.id for t in await store.load_active_trades()] == [1, 2]


async def test_a_cancelled_commit_lands_whole_or_not_at_all(store: Store) -> None:
    """Cancel at every await point of a commit; each time the store must stay consistent."""
    trade_ids = iter(range(1, 10**6))
    for steps_before_cancel in range(12):
        ids = [next(trade_ids) for _ in range(2000)]
        big = WriteBatch("main", trades=[make_trade(i) for i in ids],
                         events=[make_event(i, 1) for i in ids])
        task = asyncio.create_task(store.commit(big))
        for _ in range(steps_before_cancel):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

        landed = [t.id for t in await store.list_trades(limit=10**6) if t.id in set(ids)]
        assert len(landed) in (0, len(ids)), steps_before_cancel
        follow_up = next(trade_ids)
        await store.commit(batch_for(follow_up))
        assert await store.get_trade(follow_up) is not None


async def test_concurrent_writers_do_not_share_a_transaction(store: Store) -> None:
    await store.commit(WriteBatch("main", notices=[make_notice(f"n{i}") for i in range(50)]))
    rows = await store.pending_notifications(T0)

    await asyncio.gather(
        *(store.commit(batch_for(i)) for i in range(1, 11)),
        *(store.mark_sent(r.id, r.id, T0) for r in rows),
    )

    assert len(await store.load_active_trades()) == 10
    assert await store.outbox_backlog() == 10


async def test_committed_data_survives_a_process_that_dies_without_closing(
    tmp_path: Path,
) -> None:
    path = db_path(tmp_path)
    script = PRELUDE + """
async def main():
    store = await Store.open(path, recipients=fixed_recipients((1, 2)))
    await store.commit(WriteBatch("main", trades=[make_trade(1)], events=[make_event(1, 1)],
                                  notices=[make_notice("main:1:1")]))
    os._exit(0)
asyncio.run(main())
"""
    rc, _, err = await run_python(script, str(path))
    assert rc == 0, err

    store = await Store.open(path)
    try:
        assert [t.id for t in await store.load_active_trades()] == [1]
        assert len(await store.events_for_trade(1)) == 1
        assert await store.outbox_backlog() == 2
        assert store.new_trade_id() == 2
    finally:
        await store.close()


async def test_a_process_killed_mid_transaction_leaves_only_what_it_committed(
    tmp_path: Path,
) -> None:
    path = db_path(tmp_path)
    script = PRELUDE + """
import aiosqlite
real_executemany = aiosqlite.Connection.executemany

async def hang_after_events(self, sql, rows):
    cursor = await real_executemany(self, sql, rows)
    if "position_events" in sql and any(r[0] == 2 for r in rows):
        print("mid-transaction", flush=True)
        await asyncio.sleep(3600)
    return cursor

async def main():
    store = await Store.open(path)
    await store.commit(WriteBatch("main", trades=[make_trade(1)], events=[make_event(1, 1)]))
    aiosqlite.Connection.executemany = hang_after_events
    await store.commit(WriteBatch("main", trades=[make_trade(2)], events=[make_event(2, 1)],
                                  notices=[make_notice("main:2:1")]))
asyncio.run(main())
"""
    proc = await start_python(script, str(path))
    assert proc.stdout is not None and proc.stderr is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line == b"mid-transaction\n", (await proc.stderr.read()).decode()
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = await Store.open(path)
    try:
        assert [t.id for t in await store.list_trades()] == [1]
        assert await store.events_for_trade(2) == []
        assert await store.outbox_backlog() == 0
        await store.commit(batch_for(2))
        assert [t.id for t in await store.list_trades()] == [2, 1]
    finally:
        await store.close()


async def test_a_second_process_is_refused_while_the_store_is_open(tmp_path: Path) -> None:
    path = db_path(tmp_path)
    script = PRELUDE + """
from positionbot.storage import DatabaseInUseError
async def main():
    try:
        store = await Store.open(path)
    except DatabaseInUseError as error:
        print(error)
        sys.exit(3)
    await store.close()
asyncio.run(main())
"""
    store = await Store.open(path)
    try:
        rc, out, err = await run_python(script, str(path))
        assert rc == 3, err
        assert str(path) in out
        assert "another positionbot" in out
        assert f"pid {os.getpid()}" in out
        with pytest.raises(DatabaseInUseError, match="another positionbot"):
            await Store.open(path)
    finally:
        await store.close()
        await store.close()

    rc, _, err = await run_python(script, str(path))
    assert rc == 0, err


async def test_open_creates_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bot.db"
    store = await Store.open(path)
    await store.close()

    assert store.path == path
    assert path.exists()
    assert path.with_name("bot.db.lock").exists()


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = await Store.open(db_path(tmp_path))
    await store.close()

    with pytest.raises(RuntimeError, match="closed"):
        await store.load_active_trades()


async def test_migrations_set_the_version_and_are_idempotent(tmp_path: Path) -> None:
    path = db_path(tmp_path)
    store = await Store.open(path)
    await store.commit(batch_for(1))
    await store.close()

    store = await Store.open(path)
    try:
        assert [t.id for t in await store.load_active_trades()] == [1]
        assert store.new_trade_id() == 2
    finally:
        await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"trades", "position_events", "notifications", "sync_state", "fill_cursors"} <= tables


async def test_an_existing_empty_database_is_migrated(tmp_path: Path) -> None:
    path = db_path(tmp_path)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as raw:  # a database with no tables (a 0-byte file is refused)
        raw.execute("VACUUM")
    assert path.stat().st_size > 0

    store = await Store.open(path)
    await store.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_a_newer_schema_is_refused_and_the_lock_released(tmp_path: Path) -> None:
    path = db_path(tmp_path)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    for _ in range(2):  # a second DatabaseInUseError would mean the lock leaked
        with pytest.raises(SchemaVersionError, match=str(path)):
            await Store.open(path)
