"""The SQLite store: the only code that talks to the database.

One process owns a database file (see ``storage.lock``). Within that process, every
operation runs under one asyncio lock, so a multi-statement transaction of the tracker can
never interleave with a statement of the notifier on the shared connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from positionbot.storage import codec, reports
from positionbot.storage.integrity import DatabaseRefusedError, connect_checked, lock_and_check
from positionbot.storage.lock import DatabaseInUseError, DatabaseLock
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import PositionEvent, SyncState, Trade, TradeStatus
from positionbot.tracker.core.notices import Notice
from positionbot.tracker.core.records import FillCursor, OutboxRow, WriteBatch

__all__ = ["DatabaseInUseError", "DatabaseRefusedError", "Store"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Recipients = Callable[[Notice], Sequence[int]]
"""The chats a notice is queued for: the bot layer's fan-out policy, injected at open."""


def no_recipients(notice: Notice) -> Sequence[int]:
    return ()


def fixed_recipients(chats: Iterable[int]) -> Recipients:
    """Every notice to the same chats."""
    chosen = tuple(chats)
    return lambda notice: chosen

_MAX_ERROR_CHARS = 1000
# Literal values, not parameters, so that the partial index trades_active applies. Hot queries
# name their index: without statistics the planner would otherwise scan or sort large tables.
_ACTIVE = f"status IN ('{TradeStatus.PENDING.value}', '{TradeStatus.OPEN.value}')"

_SELECT_TRADES = f"SELECT {', '.join(codec.TRADE_COLUMNS)} FROM trades"
_UPSERT_TRADE = (
    f"INSERT INTO trades ({', '.join(codec.TRADE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in codec.TRADE_COLUMNS)}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in codec.TRADE_COLUMNS[1:])
)
_INSERT_EVENT = (
    f"INSERT INTO position_events ({', '.join(codec.EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in codec.EVENT_COLUMNS)})"
)
_INSERT_NOTIFICATION = (
    "INSERT INTO notifications (chat_id, account, kind, dedupe_key, fields, trade_id, notional, "
    "created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (dedupe_key, chat_id) DO NOTHING"
)
_UPSERT_SYNC_STATE = (
    f"INSERT INTO sync_state ({', '.join(codec.SYNC_STATE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (account) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in codec.SYNC_STATE_COLUMNS[1:])
)
_UPSERT_FILL_CURSOR = (
    "INSERT INTO fill_cursors (account, symbol, at, fill_ids) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (account, symbol) DO UPDATE SET at = excluded.at, fill_ids = excluded.fill_ids"
)
# A row is due when its own retry time has come and no earlier pending row of the same chat
# is still waiting for its retry: that is what keeps delivery in order per chat.
_PENDING_NOTIFICATIONS = (
    f"SELECT {', '.join(codec.OUTBOX_COLUMNS)} FROM notifications AS n "
    "INDEXED BY notifications_pending "
    "WHERE n.status = 'pending' AND n.next_attempt_at <= :now AND NOT EXISTS ("
    " SELECT 1 FROM notifications AS e INDEXED BY notifications_pending_by_chat"
    " WHERE e.status = 'pending' AND e.chat_id = n.chat_id AND e.id < n.id"
    " AND e.next_attempt_at > :now) "
    "ORDER BY n.id LIMIT :limit"
)


class Store:
    """Repositories over one SQLite file, plus the notification outbox."""

    def __init__(
        self, path: Path, db: aiosqlite.Connection, lock: DatabaseLock, last_trade_id: int,
        clock: Clock, recipients: Recipients,
    ) -> None:
        self.path = path
        self.recipients = recipients
        self._db: aiosqlite.Connection | None = db
        self._file_lock = lock
        self._last_trade_id = last_trade_id
        self._clock = clock
        self._lock = asyncio.Lock()
        self.started_fresh = False  # the file holds no record yet: new, or started fresh

    @classmethod
    async def open(
        cls, path: str | Path, *, clock: Clock = utc_now, recipients: Recipients = no_recipients,
        fresh: bool = False,
    ) -> Store:
        """Lock, check, open and migrate the database; ``clock`` stamps outbox rows (tests pin
        it), ``recipients`` says which chats each notice is queued for. A missing-but-expected,
        empty, truncated or corrupt file is refused (``DatabaseRefusedError``) unless ``fresh``
        asks for a new record, which moves it aside."""
        path, lock = lock_and_check(Path(path), fresh=fresh)
        try:
            db = await connect_checked(path, _configure, fresh=fresh)
            try:
                rows = list(await db.execute_fetchall(
                    "SELECT MAX(id), EXISTS (SELECT 1 FROM sync_state) FROM trades"))
            except BaseException:
                await db.close()
                raise
        except BaseException:
            lock.release()
            raise
        store = cls(path, db, lock, rows[0][0] or 0, clock, recipients)
        store.started_fresh = rows[0][0] is None and not rows[0][1]
        return store

    async def close(self) -> None:
        """Close the connection and release the file lock; safe to call twice."""
        async with self._lock:
            if self._db is None:
                return
            db, self._db = self._db, None
            try:
                await db.close()
            finally:
                self._file_lock.release()

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def unclean_shutdown(self) -> bool:
        """The previous owner of the file died without closing it (killed, crashed, power lost)."""
        return self._file_lock.owner_died

    def new_trade_id(self) -> int:
        """Next free trade id; an in-memory counter is safe because one process owns the file."""
        self._last_trade_id += 1
        return self._last_trade_id

    async def load_active_trades(self, account: str | None = None) -> list[Trade]:
        """Pending and open trades, by id."""
        sql = f"{_SELECT_TRADES} INDEXED BY trades_active WHERE {_ACTIVE}"
        params: list[Any] = []
        if account is not None:
            sql += " AND account = ?"
            params.append(account)
        rows = await self._fetch(sql + " ORDER BY id", params)
        return [codec.trade_from_row(r) for r in rows]

    async def get_trade(self, trade_id: int) -> Trade | None:
        rows = await self._fetch(f"{_SELECT_TRADES} WHERE id = ?", (trade_id,))
        return codec.trade_from_row(rows[0]) if rows else None

    async def list_trades(
        self, account: str | None = None, statuses: Iterable[TradeStatus] | None = None,
        limit: int = 20, *, by_close: bool = False,
    ) -> list[Trade]:
        """Newest first (by id, or by close time when ``by_close``: what /history means by
        the latest), optionally filtered by account and statuses."""
        conditions: list[str] = []
        params: list[Any] = []
        if account is not None:
            conditions.append("account = ?")
            params.append(account)
        if statuses is not None:
            wanted = sorted({s.value for s in statuses})
            if not wanted:
                return []
            conditions.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        order = "COALESCE(closed_at, opened_at) DESC, id DESC" if by_close else "id DESC"
        sql = f"{_SELECT_TRADES}{where} ORDER BY {order} LIMIT ?"
        rows = await self._fetch(sql, [*params, limit])
        return [codec.trade_from_row(r) for r in rows]

    async def events_for_trade(self, trade_id: int) -> list[PositionEvent]:
        rows = await self._fetch(
            f"SELECT {', '.join(codec.EVENT_COLUMNS)} FROM position_events "
            "WHERE trade_id = ? ORDER BY seq",
            (trade_id,),
        )
        return [codec.event_from_row(r) for r in rows]

    async def read_rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """One read-only query, for the report queries in ``storage.reports``."""
        return await self._fetch(sql, params)

    async def trades_for_funding(self, account: str, since: datetime) -> list[Trade]:
        return await reports.trades_for_funding(self, account, since)

    async def get_sync_state(self, account: str) -> SyncState:
        """The account's sync state, or a fresh one if it never synced."""
        rows = await self._fetch(
            f"SELECT {', '.join(codec.SYNC_STATE_COLUMNS)} FROM sync_state WHERE account = ?",
            (account,),
        )
        return codec.sync_state_from_row(rows[0]) if rows else SyncState(account)

    async def all_sync_states(self) -> list[SyncState]:
        rows = await self._fetch(
            f"SELECT {', '.join(codec.SYNC_STATE_COLUMNS)} FROM sync_state ORDER BY account", ()
        )
        return [codec.sync_state_from_row(r) for r in rows]

    async def get_fill_cursor(self, account: str, symbol: str) -> FillCursor | None:
        rows = await self._fetch(
            "SELECT at, fill_ids FROM fill_cursors WHERE account = ? AND symbol = ?",
            (account, symbol),
        )
        return codec.fill_cursor_from_row(rows[0]) if rows else None

    async def commit(self, batch: WriteBatch) -> None:
        """Write the whole batch in one transaction: all of it lands, or none of it does."""
        if batch.is_empty:
            return
        # Encode first: a value that cannot be stored fails before the transaction starts.
        now = codec.dt_text(self._clock())
        trades = [codec.trade_row(t) for t in batch.trades]
        events = [codec.event_row(e) for e in batch.events]
        notifications = codec.outbox_rows(batch.notices, self.recipients, now)
        sync_state = None if batch.sync_state is None else codec.sync_state_row(batch.sync_state)
        cursors = [
            codec.fill_cursor_row(batch.account, symbol, cursor)
            for symbol, cursor in batch.fill_cursors.items()
        ]
        async with self._exclusive() as db:
            # BEGIN sits inside the try: however the task is cancelled, ROLLBACK is queued behind
            # every statement already sent, before the connection is handed to anyone else.
            try:
                await db.execute("BEGIN IMMEDIATE")
                if trades:
                    await db.executemany(_UPSERT_TRADE, trades)
                if events:
                    await db.executemany(_INSERT_EVENT, events)
                if notifications:
                    await db.executemany(_INSERT_NOTIFICATION, notifications)
                if sync_state is not None:
                    await db.execute(_UPSERT_SYNC_STATE, sync_state)
                if cursors:
                    await db.executemany(_UPSERT_FILL_CURSOR, cursors)
                await db.execute("COMMIT")
            except BaseException:
                await db.rollback()
                raise
        if batch.trades:
            self._last_trade_id = max(self._last_trade_id, max(t.id for t in batch.trades))

    async def pending_notifications(self, now: datetime, limit: int = 100) -> list[OutboxRow]:
        """Rows due for delivery, by id; a row waits while an earlier one of its chat waits."""
        rows = await self._fetch(
            _PENDING_NOTIFICATIONS, {"now": codec.dt_text(now), "limit": limit}
        )
        return [codec.outbox_from_row(r) for r in rows]

    async def mark_sent(self, row_id: int, message_id: int | None, at: datetime) -> None:
        await self._update_pending(
            "status = 'sent', attempts = attempts + 1, sent_at = ?, message_id = ?",
            (codec.dt_text(at), message_id),
            row_id,
        )

    async def mark_retry(self, row_id: int, error: str, next_attempt_at: datetime) -> None:
        """Record a failed attempt; the row is due again at ``next_attempt_at``."""
        await self._update_pending(
            "attempts = attempts + 1, error = ?, next_attempt_at = ?",
            (error[:_MAX_ERROR_CHARS], codec.dt_text(next_attempt_at)),
            row_id,
        )

    async def mark_failed(self, row_id: int, error: str, at: datetime) -> None:
        """Give up on the row for good (chat not found, bot blocked): it is never retried."""
        await self._update_pending(
            "status = 'failed', attempts = attempts + 1, error = ?, sent_at = ?",
            (error[:_MAX_ERROR_CHARS], codec.dt_text(at)),
            row_id,
        )

    async def pending_for_delivery(self, held_chats: Collection[int], limit: int = 100,
                                   per_chat: int | None = None) -> list[OutboxRow]:
        """Pending rows, leaving out chats the notifier holds back: whole chats (up to
        ``per_chat`` rows each, in id order) by their oldest row until ``limit`` is reached (the
        last chat is not cut short), so a chat's backlog is seen at once and can be one digest.
        The notifier keeps its own (monotonic) retry times: ``next_attempt_at`` is a record,
        not a schedule, so a wall-clock step cannot hold a chat's pushes back."""
        held = sorted(set(held_chats))
        skip = f" AND chat_id NOT IN ({', '.join('?' for _ in held)})" if held else ""
        rows: list[Any] = []
        async with self._exclusive() as db:  # (the chat index only: ~10 ms at 100,000 rows)
            chats = await db.execute_fetchall(
                "SELECT chat_id, MIN(id) AS oldest FROM notifications INDEXED BY "
                f"notifications_pending_by_chat WHERE status = 'pending'{skip} GROUP BY chat_id "
                "ORDER BY oldest LIMIT ?", (*held, limit))
            for chat_id, _ in chats:
                if len(rows) >= limit:
                    break
                rows += await db.execute_fetchall(
                    f"SELECT {', '.join(codec.OUTBOX_COLUMNS)} FROM notifications INDEXED BY "
                    "notifications_pending_by_chat WHERE status = 'pending' AND chat_id = ? "
                    "ORDER BY id LIMIT ?", (chat_id, per_chat or limit))
        return [codec.outbox_from_row(r) for r in rows]

    async def move_chat_pushes(self, old_chat: int, new_chat: int) -> int:
        """A group became a supergroup: its pending pushes go to the new chat id, in order."""
        async with self._exclusive() as db:
            cursor = await db.execute(
                "UPDATE notifications SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
                (new_chat, old_chat),
            )
            moved = cursor.rowcount
            await cursor.close()
        return moved

    async def outbox_backlog(self) -> int:
        rows = await self._fetch("SELECT COUNT(*) FROM notifications WHERE status = 'pending'", ())
        return int(rows[0][0])

    async def chat_settings(self) -> list[tuple[int, str, str]]:
        """Every stored chat choice as (chat_id, key, value)."""
        rows = await self._fetch("SELECT chat_id, key, value FROM chat_settings ORDER BY chat_id, key", ())
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def set_chat_setting(self, chat_id: int, key: str, value: str | None) -> None:
        """Store one choice; ``None`` forgets it (the configuration applies again)."""
        async with self._exclusive() as db:
            if value is None:
                await db.execute("DELETE FROM chat_settings WHERE chat_id = ? AND key = ?", (chat_id, key))
            else:
                await db.execute(
                    "INSERT INTO chat_settings (chat_id, key, value, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (chat_id, key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    (chat_id, key, value, codec.dt_text(self._clock())))

    async def outbox_pending_summary(self) -> tuple[int, datetime | None]:
        """How many rows wait for delivery, and when the oldest of them was queued."""
        rows = await self._fetch(
            "SELECT COUNT(*), MIN(created_at) FROM notifications INDEXED BY notifications_pending "
            "WHERE status = 'pending'", ())
        return int(rows[0][0]), codec.opt_dt(rows[0][1])

    async def _update_pending(self, assignments: str, params: tuple[Any, ...], row_id: int) -> None:
        """Update a pending outbox row; a row already sent or failed is left alone."""
        async with self._exclusive() as db:
            cursor = await db.execute(
                f"UPDATE notifications SET {assignments} WHERE id = ? AND status = 'pending'",
                (*params, row_id),
            )
            changed = cursor.rowcount
            await cursor.close()
        if changed == 0:
            log.warning("outbox row %d is not pending; update ignored", row_id)

    async def _fetch(self, sql: str, params: Any) -> list[Any]:
        async with self._exclusive() as db:
            return list(await db.execute_fetchall(sql, params))

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, for this caller alone, outside any transaction."""
        async with self._lock:
            if self._db is None:
                raise RuntimeError(f"store {self.path} is closed")
            yield self._db


async def _configure(db: aiosqlite.Connection) -> None:
    rows = list(await db.execute_fetchall("PRAGMA journal_mode = WAL"))
    if rows[0][0] != "wal":
        raise RuntimeError(f"SQLite refused WAL mode (journal_mode={rows[0][0]})")
    for pragma in ("foreign_keys = ON", "busy_timeout = 5000", "synchronous = NORMAL"):
        await db.execute(f"PRAGMA {pragma}")
