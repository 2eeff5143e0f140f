"""Plain data crossing the storage boundary: what a cycle writes, and what the outbox hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tracker.fills import FillCursor as FillCursor
from tracker.models import Notice, PositionEvent, SyncState, Trade


@dataclass(slots=True)
class WriteBatch:
    """Everything one cycle (or one command) writes; ``Store.commit`` applies it in one transaction.

    Trades are upserted by id, events appended, and every notice is fanned out to one outbox row
    per chat in ``chat_ids`` (a notice already queued for a chat is skipped, never repeated).
    """

    account: str
    trades: list[Trade] = field(default_factory=list)
    events: list[PositionEvent] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    chat_ids: tuple[int, ...] = ()
    sync_state: SyncState | None = None
    fill_cursors: dict[str, FillCursor] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (
            self.trades or self.events or self.notices or self.sync_state or self.fill_cursors
        )


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One pending push for one chat, as the notifier sees it."""

    id: int
    chat_id: int
    kind: str
    account: str
    dedupe_key: str
    fields: dict[str, str]
    trade_id: int | None
    notional: Decimal | None
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
