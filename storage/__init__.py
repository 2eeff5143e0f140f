"""SQLite state: trades, their append-only events, the notification outbox and sync state."""

from storage.batch import FillCursor, OutboxRow, WriteBatch
from storage.lock import DatabaseInUseError
from storage.schema import SCHEMA_VERSION, SchemaVersionError
from storage.store import Store

__all__ = [
    "SCHEMA_VERSION",
    "DatabaseInUseError",
    "FillCursor",
    "OutboxRow",
    "SchemaVersionError",
    "Store",
    "WriteBatch",
]
