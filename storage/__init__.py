"""SQLite state: trades, their append-only events, the notification outbox and sync state."""

from positionbot.storage.lock import DatabaseInUseError
from positionbot.storage.schema import SCHEMA_VERSION, SchemaVersionError
from positionbot.storage.store import Store
from positionbot.tracker.core.records import FillCursor, OutboxRow, WriteBatch

__all__ = [
    "SCHEMA_VERSION",
    "DatabaseInUseError",
    "FillCursor",
    "OutboxRow",
    "SchemaVersionError",
    "Store",
    "WriteBatch",
]
