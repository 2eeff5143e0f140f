"""Plain data crossing the storage boundary: what a cycle writes, and what the outbox hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from positionbot.tracker.core.fills import FillCursor as FillCursor
from positionbot.tracker.core.models import PositionEvent, SyncState, Trade
from positionbot.tracker.core.notices import Notice


@dataclass(slots=True)
class WriteBatch:
    """Everything one cycle (or one command) writes; ``Store.commit`` applies it in one transaction.

    Trades are upserted by id, events appended, and every notice queued in the outbox in the
    same transaction. Which chats a notice goes to is the store's recipients policy (given by
    the bot layer when it opens the store), not the tracker's concern.
    """

    account: str
    trades: list[Trade] = field(default_factory=list)
    events: list[PositionEvent] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
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
    fields: str  # the notice's fields as stored: ``notices.decode`` reads them
    trade_id: int | None
    notional: Decimal | None
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
