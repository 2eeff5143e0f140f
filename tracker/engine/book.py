"""The account book: what the bot reads about each account between cycles (the read model).

The cycle runner is its only writer; handlers and the notifier only read it, so a listing
never waits for the exchange or the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from positionbot.tracker.core.classify import PositionKey, key_of
from positionbot.tracker.core.models import (
    Position,
    PositionMode,
    PositionSnapshot,
    SyncState,
    Trade,
    TradeStatus,
)
from positionbot.tracker.engine.report import CycleReport, EntryMismatch


class LiveHealth(Protocol):
    failing_since: datetime | None


class AccountBook:
    """Open and pending trades, the last snapshot and health of every account."""

    def __init__(self, accounts: Iterable[str]) -> None:
        self.accounts: list[str] = list(accounts)
        self._active: dict[str, dict[int, Trade]] = {a: {} for a in self.accounts}
        self._snapshots: dict[str, PositionSnapshot] = {}
        self._index: dict[str, dict[PositionKey, Position]] = {}  # the snapshot, keyed once
        self._reports: dict[str, CycleReport] = {}
        self._sync: dict[str, SyncState] = {a: SyncState(a) for a in self.accounts}
        self.mismatches: dict[int, EntryMismatch] = {}
        self.entries_checked: set[int] = set()  # open trades whose entry verdict is current
        self._revisions: dict[str, int] = dict.fromkeys(self.accounts, 0)
        self._health: dict[str, LiveHealth] = {}

    def watch_health(self, account: str, health: LiveHealth) -> None:
        """Follow the account gateway's live health (its retries within the current cycle)."""
        self._health[account] = health

    def failing_since(self, account: str) -> datetime | None:
        """When the exchange stopped answering, while it still does not (None: it answers)."""
        health = self._health.get(account)
        return health.failing_since if health is not None else None

    def revision(self, account: str) -> int:
        """Moves on with every write of the account's trades: equal revisions, same trades."""
        return self._revisions.get(account, 0)

    def active_trades(self, account: str | None = None) -> list[Trade]:
        accounts = [account] if account is not None else self.accounts
        return [t for a in accounts for t in sorted(self._active[a].values(), key=lambda t: t.id)]

    def active_by_id(self, account: str) -> Mapping[int, Trade]:
        return self._active[account]

    def find_active(self, trade_id: int) -> Trade | None:
        for trades in self._active.values():
            if trade_id in trades:
                return trades[trade_id]
        return None

    def last_snapshot(self, account: str) -> PositionSnapshot | None:
        return self._snapshots.get(account)

    def positions_by_key(self, account: str) -> Mapping[PositionKey, Position]:
        return self._index.get(account, {})

    def last_report(self, account: str) -> CycleReport | None:
        return self._reports.get(account)

    def sync_state(self, account: str) -> SyncState:
        return self._sync[account]

    def is_hedge(self, account: str) -> bool:
        snap = self._snapshots.get(account)
        return snap is not None and snap.mode is PositionMode.HEDGE

    def position_for(self, trade: Trade) -> Position | None:
        snap = self._snapshots.get(trade.account)
        if snap is None:
            return None
        return self._index[trade.account].get(key_of(trade.symbol, trade.side, snap.mode))

    def mark_of(self, account: str, symbol: str) -> Decimal | None:
        """The last mark price seen for a symbol on this account, if any position showed one."""
        for p in self._index.get(account, {}).values():
            if p.symbol == symbol and p.mark_price is not None:
                return p.mark_price
        return None

    # Writes: the cycle runner's only.

    def load(self, account: str, trades: Iterable[Trade], sync: SyncState) -> None:
        self._active[account] = {t.id: t for t in trades}
        self._revisions[account] = self.revision(account) + 1
        self._sync[account] = sync

    def set_snapshot(self, account: str, snap: PositionSnapshot,
                     by_key: dict[PositionKey, Position]) -> None:
        """The positions the cycle keyed; the same keying again only moves the snapshot's time
        (a steady cycle rebuilds nothing)."""
        last = self._snapshots.get(account)
        positions = (last.positions if last is not None and self._index.get(account) is by_key
                     else tuple(by_key.values()))
        self._snapshots[account] = replace(snap, positions=positions)
        self._index[account] = by_key

    def set_sync_state(self, state: SyncState) -> None:
        self._sync[state.account] = state

    def set_report(self, report: CycleReport) -> None:
        self._reports[report.account] = report

    def remember(self, account: str, trades: Iterable[Trade]) -> None:
        active = self._active[account]
        for t in trades:
            self._revisions[account] = self.revision(account) + 1
            self.entries_checked.discard(t.id)
            if t.status in (TradeStatus.PENDING, TradeStatus.OPEN):
                active[t.id] = t
            else:
                active.pop(t.id, None)
                self.mismatches.pop(t.id, None)
