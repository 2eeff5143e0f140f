"""The benchmark's world: the real tracker over the paper exchange and a real SQLite file.

Only time is synthetic: a hand clock that moves 15 s per cycle and a sleep that returns at
once, so a verification fetch costs no wall time. Everything else is the production code.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.models import Fill, Market, Order, PositionSnapshot, Side, TradeStatus
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, synthetic_markets

ACCOUNT = "paper"
CHAT = 4242
PRICE = Decimal("100")
SIZE = Decimal("1")
CYCLE_INTERVAL = timedelta(seconds=15)

T = TypeVar("T")


def symbol(i: int) -> str:
    """The name ``synthetic_markets`` gives market ``i``."""
    return f"C{i}/USDT:USDT"


def side_of(i: int) -> Side:
    """Alternate longs and shorts, as a real book would hold both."""
    return Side.LONG if i % 2 == 0 else Side.SHORT


def stop_price(side: Side) -> Decimal:
    """Half-way to zero for a long, 1.5x for a short: never crossed by the bench's fixed marks."""
    return PRICE / 2 if side is Side.LONG else PRICE * Decimal("1.5")


class HandClock:
    """Shared by the exchange, the store and the tracker; ``sleep`` advances it instantly."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta = CYCLE_INTERVAL) -> None:
        self.now += delta

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class TimedPaperGateway(PaperGateway):
    """The paper gateway, also adding up the wall time spent inside exchange calls, so a
    cycle's own work (duration minus exchange time) can be told apart from the venue's."""

    def __init__(self, exchange: PaperExchange, account: str = ACCOUNT) -> None:
        super().__init__(exchange, account)
        self.exchange_s = 0.0

    async def _timed(self, call: Awaitable[T]) -> T:
        t0 = time.perf_counter()
        try:
            return await call
        finally:
            self.exchange_s += time.perf_counter() - t0

    async def markets(self) -> Mapping[str, Market]:
        return await self._timed(super().markets())

    async def fetch_positions(self) -> PositionSnapshot:
        return await self._timed(super().fetch_positions())

    async def fetch_open_orders(self) -> list[Order]:
        return await self._timed(super().fetch_open_orders())

    async def fetch_open_stop_orders(self) -> list[Order]:
        return await self._timed(super().fetch_open_stop_orders())

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None,
        client_order_id: str | None = None, stop: bool = False,
    ) -> Order | None:
        return await self._timed(super().fetch_order(
            symbol, order_id=order_id, client_order_id=client_order_id, stop=stop))

    async def fetch_fills(self, symbol: str, since: datetime) -> list[Fill]:
        return await self._timed(super().fetch_fills(symbol, since))

    async def place_stop_loss(
        self, symbol: str, position_side: Side, amount: Decimal, trigger_price: Decimal,
        client_order_id: str, hedge: bool,
    ) -> Order:
        return await self._timed(super().place_stop_loss(
            symbol, position_side, amount, trigger_price, client_order_id, hedge))

    async def place_entry(
        self, symbol: str, side: Side, amount: Decimal, price: Decimal | None,
        client_order_id: str, hedge: bool,
    ) -> Order:
        return await self._timed(super().place_entry(
            symbol, side, amount, price, client_order_id, hedge))

    async def place_reduce(
        self, symbol: str, position_side: Side, amount: Decimal, client_order_id: str, hedge: bool,
    ) -> Order:
        return await self._timed(super().place_reduce(
            symbol, position_side, amount, client_order_id, hedge))

    async def cancel_order(self, symbol: str, order_id: str, *, stop: bool = False) -> None:
        await self._timed(super().cancel_order(symbol, order_id, stop=stop))


@dataclass(frozen=True, slots=True)
class CycleSample:
    """One cycle as the bench saw it."""

    duration_s: float  # CycleReport.duration_s: the whole cycle
    local_s: float  # CycleReport.local_s: the tracker's own "classification plus database"
    own_s: float  # duration minus wall time inside exchange calls: all of the bot's own work
    report_calls: int  # CycleReport.exchange_calls
    gateway_calls: int  # the gateway's counter, read before and after
    changes: int
    from_fills: int  # changes priced from fills (they carry the fills' fees)
    verified: bool


class BenchEnv:
    """One account: a paper exchange, its timed gateway, a store on ``db_path`` and a tracker."""

    def __init__(self, db_path: Path, markets: Sequence[Market], chats: Sequence[int]) -> None:
        self.db_path = db_path
        self.chats = tuple(chats)
        self.clock = HandClock()
        self.exchange = PaperExchange(markets, clock=self.clock)
        self.gateway = TimedPaperGateway(self.exchange)
        self.settings = TrackerSettings(verify_delay=0)
        self._store: Store | None = None
        self._tracker: SimplePositionTracker | None = None

    @classmethod
    async def open(cls, db_path: Path, markets: int, chats: Sequence[int] = (CHAT,)) -> BenchEnv:
        env = cls(db_path, synthetic_markets(markets), chats)
        await env.start_tracker()
        return env

    @property
    def store(self) -> Store:
        assert self._store is not None, "store not open"
        return self._store

    @property
    def tracker(self) -> SimplePositionTracker:
        assert self._tracker is not None, "tracker not started"
        return self._tracker

    async def start_tracker(self) -> float:
        """Open the store if needed and start a fresh tracker over it; returns the start time."""
        if self._store is None:
            self._store = await Store.open(self.db_path, clock=self.clock,
                                             recipients=fixed_recipients(self.chats))
        self._tracker = SimplePositionTracker(self.store, {ACCOUNT: self.gateway}, self.settings,
                                              clock=self.clock, sleep=self.clock.sleep)
        t0 = time.perf_counter()
        await self._tracker.start()
        return time.perf_counter() - t0

    def seed(self, indexes: range) -> None:
        """Positions set directly on the venue, without fills (as if opened long ago)."""
        for i in indexes:
            self.exchange.open_position(symbol(i), side_of(i), SIZE, PRICE)

    def trade_by_hand(self, indexes: range) -> None:
        """Positions opened by market orders, so the venue holds their fills."""
        for i in indexes:
            self.exchange.set_mark(symbol(i), PRICE)
            self.exchange.manual_order(symbol(i), side_of(i).entry_order_side, SIZE)

    async def add_pending_stops(self) -> float:
        """Give every open trade a pending stop loss in one batch, then restart the tracker
        (it caches the trades), as if the trader had set them and the bot restarted.

        Returns the restart's time: a new tracker loading every open trade from the database.
        """
        trades = [replace(t, stop_loss_price=stop_price(t.side))
                  for t in self.tracker.book.active_trades(ACCOUNT) if t.status is TradeStatus.OPEN]
        await self.store.commit(WriteBatch(ACCOUNT, trades=trades))
        return await self.start_tracker()

    async def cycle(self) -> CycleSample:
        self.clock.advance()
        calls0, exchange0 = self.gateway.calls, self.gateway.exchange_s
        report = await self.tracker.run_cycle(ACCOUNT)
        if not report.ok:
            raise RuntimeError(f"cycle failed: {report.errors}")
        return CycleSample(
            duration_s=report.duration_s, local_s=report.local_s,
            own_s=report.duration_s - (self.gateway.exchange_s - exchange0),
            report_calls=report.exchange_calls, gateway_calls=self.gateway.calls - calls0,
            changes=len(report.changes), from_fills=sum(1 for c in report.changes if c.fees > 0),
            verified=report.verified,
        )

    def db_bytes(self) -> tuple[int, int]:
        """The database file and its write-ahead log, in bytes, as the disk holds them now."""
        wal = self.db_path.with_name(self.db_path.name + "-wal")
        return (self.db_path.stat().st_size, wal.stat().st_size if wal.exists() else 0)

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None
