"""Money-safety regressions: the real tracker and ``TradeCommands`` on real ccxt
(``binanceusdm``) against the local Binance-format server, with a real SQLite file.

No Telegram here: the commands are called as the bot's handlers call them, and what reaches
the trader is read from the store's outbox.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import Fill, Market, Order, OrderStatus, Trade
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.support.exchange import FAST_RETRY

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
D = Decimal
CHAT = 4242
ACCOUNT = "main"
MARKS = {BTC: D("50000"), ETH: D("3000")}


def trading_markets() -> list[Market]:
    """Binance's filters, with a BTC minimum size above its step so both rules can be met."""
    return [replace(m, min_amount=D("0.002")) if m.symbol == BTC else m for m in default_markets()]


class ThinBookExchange(PaperExchange):
    """The paper venue, where a fired stop's market order can meet only ``stop_depth``
    contracts before the exchange expires the rest (Binance's price protection, a thin book):
    a stop that fires for part of the size. Unset, it behaves as the paper venue."""

    stop_depth: Decimal | None = None

    def _trigger_stop(self, stop: Order) -> list[Fill]:
        depth, self.stop_depth = self.stop_depth, None
        if depth is None:
            return super()._trigger_stop(stop)
        child = Order(id=self._next_order_id(), symbol=stop.symbol, side=stop.side, type="market",
                      status=OrderStatus.OPEN, amount=stop.amount, reduce_only=True,
                      position_side=stop.position_side, timestamp=self._clock())
        self._orders.add(child)
        self._orders.update(replace(stop, status=OrderStatus.TRIGGERED, triggered_order_id=child.id))
        fills = self._trade(child, depth, self._marks[stop.symbol], maker=False)
        self._orders.update(replace(self._order(child.id), status=OrderStatus.EXPIRED))
        return fills


class ShiftedClock:
    """Real UTC time plus a shift, so a test can age a pending entry (``shift``: time passes,
    on both clocks), or step the wall clock alone (``step``: NTP or an operator set it)."""

    def __init__(self) -> None:
        self.shift = timedelta(0)
        self.step = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.shift + self.step

    def monotonic(self) -> float:
        return time.monotonic() + self.shift.total_seconds()


@dataclass
class Money:
    server: BinanceServer
    venue: PaperExchange
    gateway: CcxtGateway
    store: Store
    tracker: SimplePositionTracker
    commands: TradeCommands
    clock: ShiftedClock
    path: Path

    async def cycle(self, *, ok: bool = True) -> CycleReport:
        report = await self.tracker.run_cycle(ACCOUNT)
        if ok:
            assert report.ok, report.errors
        return report

    def trades(self) -> list[Trade]:
        return self.tracker.book.active_trades(ACCOUNT)

    async def notices(self) -> list[tuple[str, dict[str, object]]]:
        """The queued pushes as (kind, fields), the startup summary left out."""
        rows = await self.store.pending_notifications(self.clock() + timedelta(days=1),
                                                      limit=10_000)
        return [(r.kind, _fields(r.fields)) for r in rows if r.kind != "startup"]

    async def kinds(self) -> list[str]:
        return [k for k, _ in await self.notices()]


def _fields(stored: object) -> dict[str, object]:
    """A row's fields, stored as JSON text (or, before typed notices, as a mapping)."""
    decoded: dict[str, object] = json.loads(stored) if isinstance(stored, str) else stored  # type: ignore[assignment]
    return decoded


def make_gateway(server: BinanceServer) -> CcxtGateway:
    return CcxtGateway(ACCOUNT, "binanceusdm", api_key="k", secret="s",
                       ccxt_config=ccxt_config_for(server.base_url), retry=FAST_RETRY)


async def open_money(server: BinanceServer, path: Path, clock: ShiftedClock) -> Money:
    gateway = make_gateway(server)
    store = await Store.open(path, clock=clock, recipients=fixed_recipients([CHAT]))
    settings = TrackerSettings(verify_delay=0.0, dust=DustPolicy(D("5")), cycle_timeout=10.0,
                               pending_timeout=timedelta(minutes=60))
    tracker = SimplePositionTracker(store, {ACCOUNT: gateway}, settings, clock=clock,
                                    monotonic=clock.monotonic)
    await tracker.start()
    return Money(server, server.venue, gateway, store, tracker, TradeCommands(tracker), clock,
                 path)


@pytest.fixture
def venue() -> PaperExchange:
    return ThinBookExchange(trading_markets(), marks=dict(MARKS))


@pytest.fixture
async def server(venue: PaperExchange) -> AsyncIterator[BinanceServer]:
    async with BinanceServer(venue) as running:
        yield running


@pytest.fixture
async def money(server: BinanceServer, tmp_path: Path) -> AsyncIterator[Money]:
    env = await open_money(server, tmp_path / "bot.db", ShiftedClock())
    await env.cycle()
    yield env
    await env.store.close()
    await env.gateway.close()
