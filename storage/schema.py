"""The database schema as forward-only migrations, versioned by ``PRAGMA user_version``.

Migration ``n`` (1-based) brings a database from version ``n - 1`` to ``n``. Each runs in its
own transaction together with the version bump, so a crash mid-migration leaves the previous
version intact. Released migrations are never edited; changes are appended as new ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

_APPEND_ONLY = "SELECT RAISE(ABORT, 'position_events is append-only')"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE trades (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('long', 'short')),
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'position_opened', 'position_closed', 'cancelled')),
            source TEXT NOT NULL CHECK (source IN ('bot', 'external')),
            current_position_size TEXT NOT NULL,
            avg_entry_price TEXT NOT NULL,
            realized_pnl TEXT NOT NULL,
            fees TEXT NOT NULL,
            contract_size TEXT NOT NULL,
            entry_order_id TEXT,
            entry_client_order_id TEXT,
            entry_price_limit TEXT,
            stop_loss_price TEXT,
            stop_loss_order_id TEXT,
            stop_loss_size TEXT,
            stop_loss_note TEXT,
            close_reason TEXT,
            exchange_entry_price TEXT,
            event_seq INTEGER NOT NULL DEFAULT 0,
            created_at TEXT,
            opened_at TEXT,
            closed_at TEXT,
            last_synced_at TEXT
        )
        """,
        # Active trades are a small, hot subset of an ever-growing table.
        "CREATE INDEX trades_active ON trades (id) WHERE status IN ('pending', 'position_opened')",
        "CREATE INDEX trades_by_status ON trades (status, id)",
        "CREATE INDEX trades_by_account ON trades (account, id)",
        """
        CREATE TABLE position_events (
            id INTEGER PRIMARY KEY,
            trade_id INTEGER NOT NULL REFERENCES trades (id),
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            size_before TEXT NOT NULL,
            size_after TEXT NOT NULL,
            price TEXT,
            realized_pnl TEXT NOT NULL,
            fees TEXT NOT NULL,
            estimated INTEGER NOT NULL CHECK (estimated IN (0, 1)),
            at TEXT NOT NULL,
            note TEXT,
            UNIQUE (trade_id, seq)
        )
        """,
        f"CREATE TRIGGER position_events_no_update BEFORE UPDATE ON position_events "
        f"BEGIN {_APPEND_ONLY}; END",
        f"CREATE TRIGGER position_events_no_delete BEFORE DELETE ON position_events "
        f"BEGIN {_APPEND_ONLY}; END",
        # The outbox. sent_at is when a row left the queue: delivered, or given up as failed.
        """
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            account TEXT NOT NULL,
            kind TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            fields TEXT NOT NULL,
            trade_id INTEGER,
            notional TEXT,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            message_id INTEGER,
            error TEXT,
            UNIQUE (dedupe_key, chat_id)
        )
        """,
        # The outbox keeps every row ever sent; the pending ones are a small, hot subset.
        "CREATE INDEX notifications_pending ON notifications (id) WHERE status = 'pending'",
        "CREATE INDEX notifications_pending_by_chat "
        "ON notifications (chat_id, id, next_attempt_at) WHERE status = 'pending'",
        """
        CREATE TABLE sync_state (
            account TEXT PRIMARY KEY,
            last_attempt_at TEXT,
            last_success_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            alerted INTEGER NOT NULL DEFAULT 0 CHECK (alerted IN (0, 1))
        )
        """,
        """
        CREATE TABLE fill_cursors (
            account TEXT NOT NULL,
            symbol TEXT NOT NULL,
            at TEXT NOT NULL,
            fill_ids TEXT NOT NULL,
            PRIMARY KEY (account, symbol)
        )
        """,
    ),
    (
        # Choices made from the chat (/settings: a push kind's mode, the quiet threshold; and
        # the bot-wide /pause under chat_id 0). They take precedence over the configuration.
        """
        CREATE TABLE chat_settings (
            chat_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (chat_id, key)
        )
        """,
    ),
    (
        # A close sent from the chat is its own flag, no longer close_reason='bot_close' set on
        # a trade that is still open.
        "ALTER TABLE trades ADD COLUMN close_requested_by_bot INTEGER NOT NULL DEFAULT 0 "
        "CHECK (close_requested_by_bot IN (0, 1))",
        "UPDATE trades SET close_requested_by_bot = 1, close_reason = NULL "
        "WHERE status = 'position_opened' AND close_reason = 'bot_close'",
    ),
    (
        # A trade's funding total, kept beside its net P&L so a close can say it; its funding
        # events stay the record (no release before this one booked funding).
        "ALTER TABLE trades ADD COLUMN funding TEXT NOT NULL DEFAULT '0'",
    ),
    (
        # The reports (storage.reports) read a period: events by time (P&L, export; the id is
        # the rowid, so the index also gives their "ORDER BY at, id") and closed trades by close
        # time. Without these every report scans the whole, ever-growing history.
        "CREATE INDEX position_events_by_time ON position_events (at)",
        "CREATE INDEX trades_by_status_closed ON trades (status, closed_at)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaVersionError(RuntimeError):
    """The database was written by a newer positionbot; this one must not touch it."""


async def migrate(db: aiosqlite.Connection, path: Path) -> None:
    """Apply every migration the database has not seen yet; a no-op when it is current."""
    version = await user_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} has schema version {version}, newer than this positionbot "
            f"understands ({SCHEMA_VERSION}); upgrade positionbot or use another database"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        try:
            await db.execute("BEGIN IMMEDIATE")
            for statement in MIGRATIONS[target - 1]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {target}")
            await db.execute("COMMIT")
        except BaseException:
            await db.rollback()
            raise
        log.info("migrated %s to schema version %d", path, target)


async def user_version(db: aiosqlite.Connection) -> int:
    rows = list(await db.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])
