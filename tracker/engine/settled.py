"""Diff before work, by identity: a cycle whose inputs are those of the last cycle that found
nothing to do does nothing but record its success.

A gateway hands back the very same positions tuple (and stop list) when nothing changed, so the
comparison is ``is`` per object plus the book's revision; the reader keys a snapshot once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from positionbot.tracker.core.classify import PositionKey
from positionbot.tracker.core.models import Position, PositionSnapshot
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.core.sync_health import success_state
from positionbot.tracker.engine.book import AccountBook
from positionbot.tracker.engine.ports import RecordStore

SYNC_STATE_EVERY = timedelta(seconds=30)
"""A steady cycle moves only the sync state's two timestamps: the book (which /status reads)
has them every cycle, the database at most this often, so a settled account costs no write
per cycle. After a crash the stored "last success" is at most this old."""

Inputs = tuple[object, ...]  # (positions, mode, stop list, markets, book revision)


class SettledInputs:
    """Per account: the inputs of the last cycle that found nothing to do."""

    def __init__(self) -> None:
        self._inputs: dict[str, Inputs] = {}
        self._sync_written: dict[str, datetime] = {}  # when a steady cycle last wrote sync state

    def remember(self, account: str, inputs: Inputs) -> None:
        self._inputs[account] = inputs

    def forget(self, account: str) -> None:
        self._inputs.pop(account, None)

    def kept_stops(self, account: str) -> object:
        """The stop list of the settled cycle (None when there is none)."""
        last = self._inputs.get(account)
        return last[2] if last is not None else None

    def matches(self, account: str, inputs: Inputs) -> bool:
        """The same inputs, object for object, as the last cycle that found nothing to do."""
        last = self._inputs.get(account)
        if last is None:
            return False
        *objects, revision = inputs
        *last_objects, last_revision = last
        return revision == last_revision and all(
            a is b for a, b in zip(objects, last_objects, strict=True))

    async def record_success(self, store: RecordStore, book: AccountBook, account: str,
                             started: datetime, snap: PositionSnapshot,
                             by_key: dict[PositionKey, Position]) -> None:
        """The success of a steady cycle: in the book every cycle, in the database when more
        than its time moved or ``SYNC_STATE_EVERY`` has passed since this path last wrote it."""
        last = book.sync_state(account)
        state, recovered = success_state(last, started)
        written = self._sync_written.get(account)
        if (recovered or written is None or started - written >= SYNC_STATE_EVERY
                or replace(last, last_attempt_at=started, last_success_at=started) != state):
            await store.commit(WriteBatch(account, notices=[recovered] if recovered else [],
                                          sync_state=state))
            self._sync_written[account] = started
        book.set_sync_state(state)
        book.set_snapshot(account, snap, by_key)
