"""SimplePositionTracker: one cycle per account — fetch, verify, classify, apply, act."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from storage.batch import WriteBatch
from storage.store import Store
from tracker.accounting import Replay
from tracker.actions import (
    cancel_leftover_stops,
    execute_stop_actions,
    place_stop,
    resolve_orphans,
    stop_failure,
    stop_notice,
)
from tracker.classify import (
    Change,
    PositionKey,
    classify_keyed,
    confirmed,
    key_of,
    needs_verification,
    positions_by_key,
)
from tracker.clock import utc_now
from tracker.dust import without_dust
from tracker.fills import FillCursor
from tracker.gateway import ExchangeError, ExchangeGateway
from tracker.models import (
    ChangeKind,
    Market,
    Notice,
    NoticeKind,
    Order,
    OrderStatus,
    Position,
    PositionMode,
    PositionSnapshot,
    SyncState,
    Trade,
    TradeStatus,
)
from tracker.plan import PricedChange, apply_changes
from tracker.pricing import EPOCH_KEY, price_changes
from tracker.report import CycleReport, EntryMismatch, StopLossResult, TrackerSettings
from tracker.stoploss import closed_by_stop, is_crossed, round_stop_price, stop_loss_actions
from tracker.sync_state import failure_state, success_state

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class SimplePositionTracker:
    """Keeps each account's trades true to its exchange; all trade writes go through here."""

    def __init__(
        self,
        store: Store,
        gateways: Mapping[str, ExchangeGateway],
        settings: TrackerSettings | None = None,
        notify_chats: Sequence[int] = (),
        clock: Callable[[], datetime] = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self._gateways = dict(gateways)
        self.settings = settings or TrackerSettings()
        self._chats = tuple(notify_chats)
        self._clock = clock
        self._sleep = sleep
        self._locks = {a: asyncio.Lock() for a in self._gateways}
        self._active: dict[str, dict[int, Trade]] = {a: {} for a in self._gateways}
        self._snapshots: dict[str, PositionSnapshot] = {}
        self._index: dict[str, dict[PositionKey, Position]] = {}  # the snapshot, keyed once
        self._dust_thresholds: dict[str, Decimal] = {}
        self._markets_seen: Mapping[str, Market] | None = None
        self._steps_for: Mapping[str, Market] | None = None
        self._steps_cache: dict[str, Decimal] = {}
        self._entries_checked: set[int] = set()  # open trades whose entry verdict is current
        self._reports: dict[str, CycleReport] = {}
        self._sync: dict[str, SyncState] = {a: SyncState(a) for a in self._gateways}
        self.mismatches: dict[int, EntryMismatch] = {}
        self.cycles_completed = 0
        # Accounts whose resting stops may include one no trade records (the previous process
        # died, perhaps mid-placement; a placement failed): reconciled on the next cycle.
        self._stops_unsure: set[str] = set(self._gateways) if store.unclean_shutdown else set()

    @property
    def accounts(self) -> list[str]:
        return list(self._gateways)

    def gateway(self, account: str) -> ExchangeGateway:
        return self._gateways[account]

    def account_lock(self, account: str) -> asyncio.Lock:
        """Held by every cycle; commands that trade take it too so they never race a cycle."""
        return self._locks[account]

    def new_trade_id(self) -> int:
        return self._store.new_trade_id()

    def now(self) -> datetime:
        return self._clock()

    def find_active(self, trade_id: int) -> Trade | None:
        for trades in self._active.values():
            if trade_id in trades:
                return trades[trade_id]
        return None

    def is_hedge(self, account: str) -> bool:
        snap = self._snapshots.get(account)
        return snap is not None and snap.mode is PositionMode.HEDGE

    async def start(self, *, announce: bool = True) -> None:
        """Load the open trades and sync state, and queue the startup summary (unless a
        one-shot command runs: its summary would reach the chat as a stale push later)."""
        now = self._clock()
        opened = pending = 0
        for account in self._gateways:
            trades = await self._store.load_active_trades(account)
            self._active[account] = {t.id: t for t in trades}
            self._sync[account] = await self._store.get_sync_state(account)
            opened += sum(t.is_open for t in trades)
            pending += sum(t.status is TradeStatus.PENDING for t in trades)
        if not announce:
            return
        first = self.accounts[0] if self.accounts else ""
        notice = Notice(NoticeKind.STARTUP.value, first, f"startup/{now.isoformat()}", {
            "accounts": ", ".join(self.accounts), "open_trades": str(opened),
            "pending_trades": str(pending)})
        await self._store.commit(WriteBatch(first, notices=[notice], chat_ids=self._chats))

    def last_report(self, account: str) -> CycleReport | None:
        return self._reports.get(account)

    def last_snapshot(self, account: str) -> PositionSnapshot | None:
        return self._snapshots.get(account)

    def sync_state(self, account: str) -> SyncState:
        return self._sync[account]

    def active_trades(self, account: str | None = None) -> list[Trade]:
        accounts = [account] if account is not None else self.accounts
        return [t for a in accounts for t in sorted(self._active[a].values(), key=lambda t: t.id)]

    async def markets(self, account: str) -> Mapping[str, Market]:
        return await self._gateways[account].markets()

    def position_for(self, trade: Trade) -> Position | None:
        snap = self._snapshots.get(trade.account)
        if snap is None:
            return None
        return self._index[trade.account].get(key_of(trade.symbol, trade.side, snap.mode))

    async def run_cycle(self, account: str) -> CycleReport:
        """One cycle; a second caller waits for the running one instead of racing it."""
        async with self._locks[account]:
            started = self._clock()
            t0 = time.perf_counter()
            calls0 = self._gateways[account].calls
            try:
                report = await self._cycle(account, started, t0, calls0)
            except ExchangeError as e:
                report = await self._failed(account, started, t0, calls0, str(e))
            except sqlite3.Error as e:
                log.error("cycle %s: database %s: %s", account, self._store.path, e)
                report = await self._failed(account, started, t0, calls0,
                                            f"database error ({self._store.path}): {e}")
            except Exception as e:  # a bug must not kill the loop; it is logged loudly instead
                log.exception("cycle %s crashed", account)
                report = await self._failed(account, started, t0, calls0, f"internal error: {e!r}")
            self._reports[account] = report
            self.cycles_completed += 1
            log.info(report.summary())
            return report

    async def _failed(self, account: str, started: datetime, t0: float, calls0: int,
                      error: str) -> CycleReport:
        state, notice = failure_state(self._sync[account], started, error,
                                      self.settings.alert_after_failures)
        try:
            await self._store.commit(WriteBatch(account, notices=[notice] if notice else [],
                                                chat_ids=self._chats, sync_state=state))
            self._sync[account] = state
        except Exception:
            log.exception("could not record the failed cycle of %s", account)
        return CycleReport(account, started, time.perf_counter() - t0, False, 0,
                           exchange_calls=self._gateways[account].calls - calls0, errors=(error,))

    async def _fetch(self, gw: ExchangeGateway, markets: Mapping[str, Market]
                     ) -> tuple[PositionSnapshot, dict[PositionKey, Position], set[PositionKey]]:
        """The snapshot, its positions above dust keyed once, and the keys held only as dust."""
        snap = await gw.fetch_positions()
        if markets is not self._markets_seen:
            self._markets_seen = markets
            self._dust_thresholds = {}
        kept = positions_by_key(
            without_dust(snap.positions, self.settings.dust, markets, self._dust_thresholds),
            snap.mode)
        dust: set[PositionKey] = set()
        if len(kept) < len(snap.positions):
            dust = {key_of(p.symbol, p.side, snap.mode) for p in snap.positions if p.size > 0}
            dust -= kept.keys()
        return snap, kept, dust

    async def _cycle(self, account: str, started: datetime, t0: float, calls0: int) -> CycleReport:
        gw = self._gateways[account]
        markets = await gw.markets()
        snap, by_key, dust_keys = await self._fetch(gw, markets)
        active = self._active[account]
        open_trades = [t for t in active.values() if t.is_open]
        stops: dict[str, Order] = {}
        if account in self._stops_unsure or any(t.stop_loss_order_id for t in open_trades):
            stops = {o.id: o for o in await gw.fetch_open_stop_orders()}
        local = time.perf_counter()
        steps = self._steps(markets)
        changes = classify_keyed(by_key, open_trades, snap.mode, steps)
        verified = False
        if needs_verification(changes, len(open_trades), len(by_key)):
            local_spent = time.perf_counter() - local
            await self._sleep(self.settings.verify_delay)
            snap, by_key, dust_keys = await self._fetch(gw, markets)
            local = time.perf_counter() - local_spent
            changes = confirmed(changes, classify_keyed(by_key, open_trades, snap.mode, steps))
            verified = True
        local_s = time.perf_counter() - local

        previous = self._index.get(account, {})
        pricing = await price_changes(gw, self._store, account, changes, snap.mode,
                                      self.settings.max_fill_symbols)
        if self._sync[account].last_success_at is None:
            pricing.cursors[EPOCH_KEY] = FillCursor(started, ())
        priced = await self._price(gw, account, changes, pricing.replays, previous, stops,
                                   dust_keys)

        local = time.perf_counter()
        now = self._clock()
        outcome = apply_changes(priced, account, self._store.new_trade_id, now)
        changed = {t.id for t in outcome.trades}
        mismatch_updates = self._check_entries(account, by_key, snap.mode, markets, changed)
        state, recovered = success_state(self._sync[account], started)
        batch = WriteBatch(account, trades=outcome.trades + mismatch_updates, events=outcome.events,
                           notices=outcome.notices + ([recovered] if recovered else []),
                           chat_ids=self._chats, sync_state=state,
                           fill_cursors=pricing.cursors)
        await self._store.commit(batch)
        self._sync[account] = state
        self._snapshots[account] = replace(snap, positions=tuple(by_key.values()))
        self._index[account] = by_key
        self._remember(account, batch.trades)
        local_s += time.perf_counter() - local

        lines, errors = await self._act(gw, account, outcome.trades, stops, by_key, snap.mode, markets)
        return CycleReport(
            account, started, time.perf_counter() - t0, True, len(by_key),
            tuple(outcome.applied), tuple(lines), gw.calls - calls0,
            tuple(pricing.errors + errors), verified, local_s)

    def _steps(self, markets: Mapping[str, Market]) -> dict[str, Decimal]:
        if markets is not self._steps_for:
            self._steps_for = markets
            self._steps_cache = {s: m.amount_step for s, m in markets.items()}
        return self._steps_cache

    async def _price(self, gw: ExchangeGateway, account: str, changes: Sequence[Change],
                     replays: Mapping[int, Replay | None],
                     previous: Mapping[PositionKey, Position], stops: Mapping[str, Order],
                     dust_keys: set[PositionKey]) -> list[PricedChange]:
        """Attach to each change its fills replay, last mark, pending bot trade and stop verdict."""
        if not changes:
            return []
        pending = sorted((t for t in self._active[account].values()
                          if t.status is TradeStatus.PENDING), key=lambda t: t.id)
        priced = []
        for i, c in enumerate(changes):
            match = None
            if c.kind is ChangeKind.OPENED and c.position is not None:
                match = next((t for t in pending if t.symbol == c.position.symbol
                              and t.side is c.position.side), None)
                if match is not None:
                    pending.remove(match)
            hit = False
            if c.kind is ChangeKind.CLOSED and c.trade is not None and closed_by_stop(c.trade, stops):
                hit = await self._stop_fired(gw, c.trade)
            last = previous.get(c.key)
            priced.append(PricedChange(c, replays.get(i), last.mark_price if last else None, match,
                                       hit, c.kind is ChangeKind.CLOSED and c.key in dust_keys))
        return priced

    async def _stop_fired(self, gw: ExchangeGateway, trade: Trade) -> bool:
        """Did the stop order fire (rather than being cancelled by hand before a manual close)?"""
        assert trade.stop_loss_order_id is not None
        try:
            order = await gw.fetch_order(trade.symbol, order_id=trade.stop_loss_order_id, stop=True)
        except ExchangeError:
            return True
        return order is None or order.status in (OrderStatus.TRIGGERED, OrderStatus.CLOSED)

    def _check_entries(self, account: str, by_key: Mapping[PositionKey, Position],
                       mode: PositionMode, markets: Mapping[str, Market], changed: set[int]
                       ) -> list[Trade]:
        """Keep the exchange's entry beside ours; log a difference beyond one tick.

        A trade whose exchange entry has not moved since its last verdict is skipped: at
        10,000 positions the Decimal comparisons would otherwise dominate a steady cycle."""
        updates = []
        checked = self._entries_checked
        for t in self._active[account].values():
            p = by_key.get(key_of(t.symbol, t.side, mode))
            # A flip the verification fetch saw first is not confirmed yet: not this trade's entry.
            if not t.is_open or p is None or t.id in changed or p.side is not t.side:
                continue
            if t.id in checked and p.entry_price == t.exchange_entry_price:
                continue
            checked.add(t.id)
            if p.entry_price != t.exchange_entry_price:
                updates.append(replace(t, exchange_entry_price=p.entry_price))
            tick = markets[t.symbol].price_tick if t.symbol in markets else Decimal(0)
            if abs(t.avg_entry_price - p.entry_price) > tick:
                if t.id not in self.mismatches:
                    log.warning("entry mismatch %s #%s: ours %s, exchange %s", t.symbol, t.id,
                                t.avg_entry_price, p.entry_price)
                self.mismatches[t.id] = EntryMismatch(t.id, t.symbol, t.avg_entry_price, p.entry_price)
            else:
                self.mismatches.pop(t.id, None)
        return updates

    def _remember(self, account: str, trades: Iterable[Trade]) -> None:
        active = self._active[account]
        for t in trades:
            self._entries_checked.discard(t.id)
            if t.status in (TradeStatus.PENDING, TradeStatus.OPEN):
                active[t.id] = t
            else:
                active.pop(t.id, None)
                self.mismatches.pop(t.id, None)

    async def _act(self, gw: ExchangeGateway, account: str, changed: Sequence[Trade],
                   stops: Mapping[str, Order], by_key: Mapping[PositionKey, Position],
                   mode: PositionMode, markets: Mapping[str, Market]) -> tuple[list[str], list[str]]:
        active = self._active[account]
        open_now = [t for t in active.values() if t.is_open]
        closed_now = [t for t in changed if t.status is TradeStatus.CLOSED]
        marks = {t.id: p.mark_price for t in open_now if t.has_pending_stop
                 and (p := by_key.get(key_of(t.symbol, t.side, mode))) and p.mark_price is not None}
        actions = stop_loss_actions(open_now, closed_now, stops, marks)
        result = await execute_stop_actions(gw, actions, markets, mode is PositionMode.HEDGE, marks)
        if account in self._stops_unsure:  # the stops were fetched this cycle
            recorded = {t.stop_loss_order_id for t in [*active.values(), *closed_now, *result.trades]
                        if t.stop_loss_order_id is not None}
            leftover = await cancel_leftover_stops(gw, stops, recorded)
            result.lines += leftover.lines
            result.errors += leftover.errors
            if not leftover.errors:
                self._stops_unsure.discard(account)
        if result.errors:
            self._stops_unsure.add(account)
        orphans = [t for t in active.values() if t.status is TradeStatus.PENDING
                   and key_of(t.symbol, t.side, mode) not in by_key]
        orphan_result = await resolve_orphans(gw, orphans, self._clock(), self.settings.pending_timeout)
        trades = result.trades + orphan_result.trades
        notices = result.notices + orphan_result.notices
        if trades or notices:
            await self._store.commit(WriteBatch(account, trades=trades, notices=notices,
                                                chat_ids=self._chats))
            self._remember(account, trades)
        return result.lines + orphan_result.lines, result.errors + orphan_result.errors

    async def set_stop_loss(self, trade_id: int, price: Decimal | None) -> StopLossResult:
        """Set, change or clear (``None``) the stop loss of an open or pending trade."""
        account = next((a for a, ts in self._active.items() if trade_id in ts), None)
        if account is None:
            raise ValueError(f"trade #{trade_id} is not open or pending")
        async with self._locks[account]:
            t = self._active[account].get(trade_id)
            if t is None:
                raise ValueError(f"trade #{trade_id} is not open or pending")
            if price is None:
                return await self._clear_stop(t)
            if price <= 0:
                raise ValueError("the stop price must be positive")
            markets = await self.markets(account)
            if t.symbol in markets:
                price = round_stop_price(t.side, price, markets[t.symbol].price_tick)
            if t.status is TradeStatus.PENDING:
                stored = replace(t, stop_loss_price=price, stop_loss_note=None)
                await self.commit_trade(stored, [])
                return StopLossResult(stored, False, None,
                                      f"stop loss {price} stored; placed when the entry fills")
            return await self._place_now(t, price)

    async def _place_now(self, t: Trade, price: Decimal) -> StopLossResult:
        position = self.position_for(t)
        mark = position.mark_price if position else None
        if mark is not None and is_crossed(t.side, price, mark):
            side = "below" if t.side.value == "long" else "above"
            raise ValueError(f"a {t.side.value} stop must be {side} the mark {mark}; got {price}")
        hedge = self.is_hedge(t.account)
        wanted = replace(t, stop_loss_price=price, stop_loss_note=None)
        gw = self._gateways[t.account]
        try:
            order = await place_stop(gw, wanted, price, t.size, hedge)
        except ExchangeError as e:
            self._stops_unsure.add(t.account)  # the exchange may have accepted it after all
            if t.stop_loss_order_id is not None:
                # The live stop stays in force; forgetting it would leave two stops later.
                return StopLossResult(t, False, t.stop_loss_order_id,
                                      f"exchange refused the new stop: {e}; the previous one stays")
            failed, notice = stop_failure(wanted, str(e))
            await self.commit_trade(failed, [notice] if notice else [])
            return StopLossResult(failed, False, None, f"exchange refused the stop: {e}; will retry")
        old = t.stop_loss_order_id
        if old is not None and old != order.id:
            try:
                await gw.cancel_order(t.symbol, old, stop=True)
            except ExchangeError as e:
                log.warning("could not cancel the replaced stop %s: %s", old, e)
        placed = replace(wanted, stop_loss_order_id=order.id, stop_loss_size=t.size)
        notice = stop_notice(NoticeKind.STOP_LOSS_PLACED, placed, f"placed/{order.id}",
                             order_id=order.id)
        await self.commit_trade(placed, [notice])
        return StopLossResult(placed, True, order.id,
                              f"stop loss placed at {order.trigger_price or price} for {t.size}")

    async def _clear_stop(self, t: Trade) -> StopLossResult:
        if t.stop_loss_order_id is not None:
            try:
                await self._gateways[t.account].cancel_order(t.symbol, t.stop_loss_order_id, stop=True)
            except ExchangeError as e:
                return StopLossResult(t, False, t.stop_loss_order_id,
                                      f"could not cancel the stop order: {e}")
        cleared = replace(t, stop_loss_price=None, stop_loss_order_id=None, stop_loss_size=None,
                          stop_loss_note=None)
        notice = stop_notice(NoticeKind.STOP_LOSS_CLEARED, t,
                             f"cleared/{self._clock().isoformat()}", reason="cleared from the chat")
        await self.commit_trade(cleared, [notice])
        return StopLossResult(cleared, False, None, "stop loss cleared")

    async def commit_trade(self, trade: Trade, notices: list[Notice]) -> None:
        """Write one trade (and its notices) and keep the cache in step; call under the account lock."""
        await self._store.commit(WriteBatch(trade.account, trades=[trade], notices=notices,
                                            chat_ids=self._chats))
        self._remember(trade.account, [trade])
