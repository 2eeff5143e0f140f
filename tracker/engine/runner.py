"""The cycle runner (``SimplePositionTracker``): one cycle per account — fetch, verify,
classify, apply, act."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.classify import (
    PositionKey,
    classify_keyed,
    confirmed,
    key_of,
    needs_verification,
)
from positionbot.tracker.core.fills import FillCursor
from positionbot.tracker.core.ledger import apply_changes
from positionbot.tracker.core.models import (
    Fill,
    Market,
    Order,
    Position,
    PositionMode,
    PositionSnapshot,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.notices import Notice, Startup
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.core.redact import short_reason
from positionbot.tracker.core.stoploss import stop_loss_actions
from positionbot.tracker.core.stream_events import PositionReport
from positionbot.tracker.core.sync_health import failure_state, success_state
from positionbot.tracker.engine.book import AccountBook
from positionbot.tracker.engine.cycle_steps import (
    PendingAges,
    attach_context,
    cancel_leftovers,
    check_entries,
    settle_pending,
    with_fired_stops,
)
from positionbot.tracker.engine.funding_sync import FundingSync
from positionbot.tracker.engine.ports import (
    ExchangeError,
    ExchangeGateway,
    PermanentExchangeError,
    RecordStore,
    TransientExchangeError,
)
from positionbot.tracker.engine.pricing import EPOCH_KEY, price_changes
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.engine.settled import SettledInputs
from positionbot.tracker.engine.snapshots import SnapshotReader
from positionbot.tracker.engine.stop_actions import execute_stop_actions
from positionbot.tracker.engine.stream_apply import StreamApplied, StreamContext, apply_stream_report

if TYPE_CHECKING:
    from positionbot.tracker.engine.stream_follower import StreamFollower

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
CycleObserver = Callable[[CycleReport], object]

def error_kind(error: ExchangeError) -> str:
    """A failed cycle's exchange error as a short label for logs and metrics."""
    if isinstance(error, TransientExchangeError):
        return "transient"
    return "permanent" if isinstance(error, PermanentExchangeError) else "exchange"


class SimplePositionTracker:
    """The cycle runner: keeps each account's trades true to its exchange.

    It is the only writer of trades (commands write through ``commit_trade`` under the
    account lock) and of the ``AccountBook`` the bot reads, and the only place that applies
    the cycle time limit.
    """

    def __init__(
        self,
        store: RecordStore,
        gateways: Mapping[str, ExchangeGateway],
        settings: TrackerSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._gateways = dict(gateways)
        self.settings = settings or TrackerSettings()
        self._clock = clock  # dates the records; timeouts run on ``monotonic`` (PendingAges)
        self._ages = PendingAges(monotonic)
        self._sleep = sleep
        self._locks = {a: asyncio.Lock() for a in self._gateways}
        self.book = AccountBook(self._gateways)
        for account, gw in self._gateways.items():
            if (health := getattr(gw, "health", None)) is not None:
                self.book.watch_health(account, health)
        self._reader = SnapshotReader(self.settings.dust)
        self._steps_for: Mapping[str, Market] | None = None
        self._steps_cache: dict[str, Decimal] = {}
        self.cycles_completed = 0
        self._settled = SettledInputs()  # diff before work (see ``settled``)
        self._open: dict[str, tuple[int, list[Trade], bool]] = {}
        # The stream followers of accounts that stream (the wiring sets them): the scheduler
        # slows the verifying poll while one is healthy, /status shows their health.
        self.streams: dict[str, StreamFollower] = {}
        self.observers: list[CycleObserver] = []  # told of every report (metrics, watchdog pings)
        self.monitor_only: frozenset[str] = frozenset()  # accounts whose commands may not trade
        self.trading_paused = False  # /pause: every trading command refused until /resume
        self.funding = FundingSync(self.settings.funding)
        # Accounts whose resting stops may include one no trade records (the previous process
        # died, perhaps mid-placement; a placement or a cancel failed): reconciled next cycle.
        self._stops_unsure: set[str] = (
            set(self._gateways) if store.unclean_shutdown or store.started_fresh else set())
        # Accounts on a record started fresh: the bot's stops found there are adopted onto the
        # positions they exactly cover (or cancelled), and the trader is told of each.
        self._fresh: set[str] = set(self._gateways) if store.started_fresh else set()

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

    def reconcile_stops(self, account: str) -> None:
        """The account's resting stops may include one no trade records: the next cycle lists
        them and cancels every bot stop that no trade holds."""
        self._stops_unsure.add(account)

    async def start(self, *, announce: bool = True) -> None:
        """Load the open trades and sync state, and queue the startup summary (unless a
        one-shot command runs: its summary would reach the chat as a stale push later)."""
        now = self._clock()
        opened = pending = 0
        for account in self._gateways:
            trades = await self._store.load_active_trades(account)
            self.book.load(account, trades, await self._store.get_sync_state(account))
            opened += sum(t.is_open for t in trades)
            pending += sum(t.status is TradeStatus.PENDING for t in trades)
        if not announce:
            return
        first = self.accounts[0] if self.accounts else ""
        notice = Startup(account=first, dedupe_key=f"startup/{now.isoformat()}",
                         accounts=tuple(self.accounts), open_trades=opened, pending_trades=pending,
                         unclean_stop=self._store.unclean_shutdown,
                         fresh_record=self._store.started_fresh)
        await self._store.commit(WriteBatch(first, notices=[notice]))

    async def markets(self, account: str) -> Mapping[str, Market]:
        return await self._gateways[account].markets()

    async def run_cycle(self, account: str) -> CycleReport:
        """One cycle within the cycle time limit; a second caller waits for the running one
        instead of racing it."""
        async with self._locks[account]:
            started = self._clock()
            t0 = time.perf_counter()
            calls0 = self._gateways[account].calls
            try:
                async with asyncio.timeout(self.settings.cycle_timeout):
                    report = await self._cycle(account, started, t0, calls0)
            except TimeoutError:
                report = await self._failed(account, started, t0, calls0,
                                            f"cycle timed out after {self.settings.cycle_timeout:g}s",
                                            "timeout")
            except ExchangeError as e:
                report = await self._failed(account, started, t0, calls0, str(e), error_kind(e))
            except sqlite3.Error as e:
                log.error("cycle %s: database %s: %s", account, self._store.location, e)
                report = await self._failed(account, started, t0, calls0,
                                            f"database error ({self._store.location}): {e}",
                                            "database")
            except Exception as e:  # a bug must not kill the loop; it is logged loudly instead
                log.exception("cycle %s crashed", account)
                report = await self._failed(account, started, t0, calls0, f"internal error: {e!r}",
                                            "internal")
            self.book.set_report(report)
            self.cycles_completed += 1
            log.log(logging.INFO if report.ok else logging.WARNING, report.summary(), extra={
                "account": account, "cycle_ms": round(report.duration_s * 1000),
                "calls": report.exchange_calls, "changes": len(report.changes),
                "error_kind": report.error_kind})
            for observe in self.observers:
                observe(report)
            return report

    async def _failed(self, account: str, started: datetime, t0: float, calls0: int,
                      error: str, kind: str) -> CycleReport:
        error = short_reason(error)  # stored and pushed: no secrets, URLs or HTML bodies
        self._settled.forget(account)
        state, notice = failure_state(self.book.sync_state(account), started, error,
                                      self.settings.alert_after_failures)
        if notice is not None:
            log.error("alert: %s unreachable after %d failed cycles: %s", account,
                      state.consecutive_failures, error, extra={"account": account, "error_kind": kind})
        try:
            await self._store.commit(WriteBatch(account, notices=[notice] if notice else [],
                                                sync_state=state))
            self.book.set_sync_state(state)
        except Exception:
            log.exception("could not record the failed cycle of %s", account)
        return CycleReport(account, started, time.perf_counter() - t0, False, 0,
                           exchange_calls=self._gateways[account].calls - calls0, errors=(error,),
                           error_kind=kind)

    async def _cycle(self, account: str, started: datetime, t0: float, calls0: int) -> CycleReport:
        gw = self._gateways[account]
        markets = await gw.markets()
        revision = self.book.revision(account)
        snap, by_key, dust_keys = await self._reader.fetch(account, gw, markets)
        open_trades, with_stops = self._open_trades(account)
        stop_list: list[Order] | None = None
        if account in self._stops_unsure or with_stops:
            stop_list = await self._stop_listing(account, gw, (snap.positions, snap.mode),
                                                 (markets, revision))
        inputs = (snap.positions, snap.mode, stop_list, markets, revision)
        if self._settled_on(account, inputs):
            return await self._steady(account, started, t0, calls0, snap, by_key)
        stops = {o.id: o for o in stop_list or ()}
        local = time.perf_counter()
        steps = self._steps(markets)
        changes = classify_keyed(by_key, open_trades, snap.mode, steps)
        verified = False
        if needs_verification(changes, len(open_trades), len(by_key)):
            local_spent = time.perf_counter() - local
            await self._sleep(self.settings.verify_delay)
            snap, by_key, dust_keys = await self._reader.refetch(account, gw, markets, snap, by_key,
                                                          dust_keys, changes)
            local = time.perf_counter() - local_spent
            changes = confirmed(changes, classify_keyed(by_key, open_trades, snap.mode, steps))
            verified = True
        local_s = time.perf_counter() - local

        changes, fired = await with_fired_stops(gw, open_trades, changes,
                                                None if stop_list is None else stops, by_key, snap.mode)
        previous = self.book.positions_by_key(account)
        pricing = await price_changes(gw, self._store, account, changes, snap.mode,
                                      self.settings.max_fill_symbols)
        if self.book.sync_state(account).last_success_at is None:
            pricing.cursors[EPOCH_KEY] = FillCursor(started, ())
        priced = await attach_context(self.book, gw, account, changes, pricing.replays, previous,
                                      stops, dust_keys, pricing.fills, fired)

        local = time.perf_counter()
        now = self._clock()
        outcome = apply_changes(priced, account, self._store.new_trade_id, now)
        changed = {t.id for t in outcome.trades}
        mismatch_updates = check_entries(self.book, account, by_key, snap.mode, markets, changed)
        state, recovered = success_state(self.book.sync_state(account), started)
        batch = WriteBatch(account, trades=outcome.trades + mismatch_updates, events=outcome.events,
                           notices=outcome.notices + ([recovered] if recovered else []),
                           sync_state=state, fill_cursors=pricing.cursors)
        await self._store.commit(batch)
        self.book.set_sync_state(state)
        self.book.set_snapshot(account, snap, by_key)
        self.book.remember(account, batch.trades)
        local_s += time.perf_counter() - local
        await self.funding.step(gw, self._store, self.book, account, now)

        lines, errors = await self._act(gw, account, outcome.trades, stops, by_key, snap.mode, markets)
        quiet = not (outcome.applied or lines or errors or pricing.errors or verified)
        if quiet and self.book.revision(account) == revision and self._nothing_waits(account):
            self._settled.remember(account, inputs)
        else:
            self._settled.forget(account)
        return CycleReport(
            account, started, time.perf_counter() - t0, True, len(by_key),
            tuple(outcome.applied), tuple(lines), gw.calls - calls0,
            tuple(pricing.errors + errors), verified, local_s)

    def _open_trades(self, account: str) -> tuple[list[Trade], bool]:
        """The open trades and whether any holds a stop, recomputed only when the book moved."""
        revision = self.book.revision(account)
        cached = self._open.get(account)
        if cached is None or cached[0] != revision:
            trades = [t for t in self.book.active_by_id(account).values() if t.is_open]
            cached = (revision, trades, any(t.stop_loss_order_id for t in trades))
            self._open[account] = cached
        return cached[1], cached[2]

    def _settled_on(self, account: str, inputs: tuple[object, ...]) -> bool:
        return account not in self._stops_unsure and self._settled.matches(account, inputs)

    async def _stop_listing(self, account: str, gw: ExchangeGateway, before: tuple[object, ...],
                            after: tuple[object, ...]) -> list[Order]:
        """The open stops. A healthy stream that vouches for the last listing spares the request
        when nothing else changed since the cycle that used it (``vouches_for_stops``)."""
        follower = self.streams.get(account)
        if follower is None:
            return await gw.fetch_open_stop_orders()
        kept = self._settled.kept_stops(account)
        if isinstance(kept, list) and follower.vouches_for_stops() and self._settled_on(
                account, (*before, kept, *after)):
            return kept
        return await follower.list_stops(gw.fetch_open_stop_orders)

    def _nothing_waits(self, account: str) -> bool:
        """No pending entry (its timeout runs) and no stop waiting to be placed (it is retried)."""
        return not any(t.status is TradeStatus.PENDING or t.has_pending_stop
                       for t in self.book.active_by_id(account).values())

    async def _steady(self, account: str, started: datetime, t0: float, calls0: int,
                      snap: PositionSnapshot, by_key: dict[PositionKey, Position]) -> CycleReport:
        """Nothing changed since a cycle that found nothing to do: only the success is recorded."""
        local = time.perf_counter()
        await self._settled.record_success(self._store, self.book, account, started, snap, by_key)
        local_s = time.perf_counter() - local
        await self.funding.step(self._gateways[account], self._store, self.book, account,
                                self._clock())
        return CycleReport(account, started, time.perf_counter() - t0, True, len(by_key),
                           exchange_calls=self._gateways[account].calls - calls0,
                           local_s=local_s)

    def _steps(self, markets: Mapping[str, Market]) -> dict[str, Decimal]:
        if markets is not self._steps_for:
            self._steps_for = markets
            self._steps_cache = {s: m.amount_step for s, m in markets.items()}
        return self._steps_cache

    async def _act(self, gw: ExchangeGateway, account: str, changed: Sequence[Trade],
                   stops: Mapping[str, Order], by_key: Mapping[PositionKey, Position],
                   mode: PositionMode, markets: Mapping[str, Market]) -> tuple[list[str], list[str]]:
        active = self.book.active_by_id(account)
        open_now = [t for t in active.values() if t.is_open]
        closed_now = [t for t in changed if t.status is TradeStatus.CLOSED]
        marks = {t.id: p.mark_price for t in open_now if t.has_pending_stop
                 and (p := by_key.get(key_of(t.symbol, t.side, mode))) and p.mark_price is not None}
        actions = stop_loss_actions(open_now, closed_now, stops, marks)
        result = await execute_stop_actions(gw, actions, markets, mode is PositionMode.HEDGE, marks)
        if account in self._stops_unsure:  # the stops were fetched this cycle
            recorded = {t.stop_loss_order_id for t in [*active.values(), *closed_now, *result.trades]
                        if t.stop_loss_order_id is not None}
            leftover = await cancel_leftovers(gw, stops, recorded, open_now, active.values(),
                                              account in self._fresh)
            result.lines += leftover.lines
            result.errors += leftover.errors
            result.trades += leftover.trades
            result.notices += leftover.notices
            if not leftover.errors:
                self._stops_unsure.discard(account)
                self._fresh.discard(account)
        if result.errors:
            self._stops_unsure.add(account)
        orphan_result = await settle_pending(gw, account, active, by_key, mode, self._clock(),
                                             self.settings.pending_timeout, self._ages)
        trades = result.trades + orphan_result.trades
        notices = result.notices + orphan_result.notices
        if trades or notices:
            await self._store.commit(WriteBatch(account, trades=trades, notices=notices))
            self.book.remember(account, trades)
        return result.lines + orphan_result.lines, result.errors + orphan_result.errors

    async def commit_trade(self, trade: Trade, notices: list[Notice]) -> None:
        """Write one trade (and its notices) and keep the book in step; call under the account lock."""
        await self._store.commit(WriteBatch(trade.account, trades=[trade], notices=notices))
        self.book.remember(trade.account, [trade])
        self._ages.see(trade, self._clock())

    async def apply_stream(self, account: str, reports: Sequence[PositionReport],
                           fills: Sequence[Fill], orders: Mapping[str, Order]) -> StreamApplied:
        """A stream's explicit report, applied under the account lock through the same rules,
        transaction and stop actions as a cycle (see ``stream_apply``)."""
        async with self._locks[account]:
            ctx = StreamContext(self._store, self._gateways[account], self.book, self.settings,
                                self._clock, self._steps, self.reconcile_stops)
            return await apply_stream_report(ctx, account, reports, fills, orders)
