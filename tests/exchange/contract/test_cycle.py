"""The real tracker and a real SQLite file over real ccxt, on every exchange: manual trading
with exact P&L (contract size ≠ 1 on OKX), stop losses placed, resized, hit and removed by
hand, bot entries with a percent stop, the orphan rules, and the requests of a steady cycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import ChangeKind, Market, OrderSide, Side, Trade, TradeStatus
from positionbot.tracker.engine.commands import StopSpec, TradeCommands
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.conftest import GatewayFactory
from tests.exchange.contract.kits import BTC, Kit, Server

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
ACCOUNT = "acc-1"


@dataclass
class Bot:
    kit: Kit
    server: Server
    venue: PaperExchange
    gateway: CcxtGateway
    store: Store
    tracker: SimplePositionTracker

    async def cycle(self) -> CycleReport:
        report = await self.tracker.run_cycle(ACCOUNT)
        assert report.ok, report.errors
        return report

    def trades(self) -> list[Trade]:
        return self.tracker.book.active_trades(ACCOUNT)

    async def kinds(self) -> list[str]:
        rows = await self.store.pending_notifications(utc_now() + timedelta(days=1), limit=1000)
        return [row.kind for row in rows if row.kind != "startup"]


async def _bot(tmp_path: Path, kit: Kit, venue: PaperExchange,
               make_gateway: GatewayFactory) -> AsyncIterator[Bot]:
    server = kit.server(venue)
    await server.start()
    try:
        gateway = make_gateway(server)
        store = await Store.open(tmp_path / "state.db", recipients=fixed_recipients([1001]))
        settings = TrackerSettings(verify_delay=0.05, dust=DustPolicy(D("5")),
                                   pending_timeout=timedelta(minutes=60))
        tracker = SimplePositionTracker(store, {ACCOUNT: gateway}, settings, utc_now,
                                        asyncio.sleep)
        await tracker.start()
        bot = Bot(kit, server, venue, gateway, store, tracker)
        await bot.cycle()
        yield bot
        await store.close()
    finally:
        await server.stop()


@pytest.fixture
async def bot(tmp_path: Path, kit: Kit, make_gateway: GatewayFactory) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, kit, kit.venue(), make_gateway):
        yield made


async def test_manual_trading_is_tracked_with_exact_pnl(bot: Bot) -> None:
    q = bot.kit.qty
    bot.venue.manual_order(BTC, BUY, q("0.010"))
    assert [c.kind for c in (await bot.cycle()).changes] == [ChangeKind.OPENED]

    bot.venue.set_mark(BTC, D("53000"))
    bot.venue.manual_order(BTC, BUY, q("0.020"))
    await bot.cycle()
    [trade] = bot.trades()
    assert (trade.size, trade.avg_entry_price) == (q("0.030"), D("52000"))

    bot.venue.set_mark(BTC, D("54000"))
    bot.venue.manual_order(BTC, SELL, q("0.010"), reduce_only=True)
    [decrease] = (await bot.cycle()).changes
    assert decrease.kind is ChangeKind.DECREASED and not decrease.estimated
    assert decrease.price == D("54000")
    assert decrease.realized_pnl == D("20") - D("0.216")  # (54000-52000)*0.01 BTC less the fee

    bot.venue.manual_order(BTC, SELL, q("0.030"))  # flips to a 0.010 short
    [flip] = (await bot.cycle()).changes
    assert flip.kind is ChangeKind.FLIPPED
    [short] = bot.trades()
    assert (short.side, short.size, short.avg_entry_price) == (Side.SHORT, q("0.010"),
                                                               D("54000"))

    bot.venue.manual_order(BTC, BUY, q("0.010"), reduce_only=True)
    assert [c.kind for c in (await bot.cycle()).changes] == [ChangeKind.CLOSED]
    assert bot.trades() == []
    assert await bot.kinds() == ["opened", "increased", "decreased", "flipped", "closed"]


async def test_stop_placed_resized_with_the_position_then_hit(bot: Bot) -> None:
    q = bot.kit.qty
    bot.venue.manual_order(BTC, BUY, q("0.010"))
    await bot.cycle()
    [trade] = bot.trades()

    assert (await TradeCommands(bot.tracker).set_stop_loss(trade.id, D("49000"))).placed
    [first] = bot.venue.open_stop_orders()
    bot.venue.manual_order(BTC, BUY, q("0.010"))
    await bot.cycle()
    [resized] = bot.venue.open_stop_orders()
    assert resized.id != first.id and resized.amount == q("0.020")
    assert resized.trigger_price == D("49000") and resized.reduce_only

    bot.venue.set_mark(BTC, D("48900.5"))
    [closed] = (await bot.cycle()).changes
    assert closed.kind is ChangeKind.CLOSED and closed.price == D("48900.5")
    assert (await bot.store.list_trades(ACCOUNT))[0].status is TradeStatus.CLOSED
    assert (await bot.kinds())[-1] == "stop_loss_hit"


async def test_stop_removed_by_hand_is_reported(bot: Bot) -> None:
    bot.venue.manual_order(BTC, BUY, bot.kit.qty("0.010"))
    await bot.cycle()
    [trade] = bot.trades()
    assert (await TradeCommands(bot.tracker).set_stop_loss(trade.id, D("45000"))).placed

    [stop] = bot.venue.open_stop_orders()
    bot.venue.manual_cancel(stop.id)
    await bot.cycle()

    [trade] = bot.trades()
    assert trade.stop_loss_order_id is None
    assert "stop_loss_removed" in await bot.kinds()


async def test_bot_market_entry_then_a_percent_stop_from_the_mark(bot: Bot) -> None:
    commands = TradeCommands(bot.tracker)
    preview = await commands.preview_entry(ACCOUNT, BTC, Side.LONG, bot.kit.qty("0.010"), None,
                                           None, D("50000"))
    await commands.open_entry(preview)
    await bot.cycle()
    [trade] = bot.trades()
    assert trade.status is TradeStatus.OPEN and trade.size == bot.kit.qty("0.010")

    assert (await commands.set_stop_loss(trade.id, StopSpec(percent=D("2")))).placed

    [stop] = bot.venue.open_stop_orders()
    assert (stop.trigger_price, stop.amount) == (D("49000"), bot.kit.qty("0.010"))


async def test_bot_limit_entry_with_a_percent_stop_placed_when_it_fills(bot: Bot) -> None:
    commands = TradeCommands(bot.tracker)
    preview = await commands.preview_entry(ACCOUNT, BTC, Side.LONG, bot.kit.qty("0.010"),
                                           D("49500"), None, None)
    pending = await commands.open_entry(preview)
    stored = await commands.set_stop_loss(pending.id, StopSpec(percent=D("2")))
    assert not stored.placed and bot.venue.open_stop_orders() == []
    await bot.cycle()
    assert [t.status for t in bot.trades()] == [TradeStatus.PENDING]

    bot.venue.set_mark(BTC, D("49400"))
    await bot.cycle()

    [trade] = bot.trades()
    assert trade.status is TradeStatus.OPEN and trade.avg_entry_price == D("49500")
    [stop] = bot.venue.open_stop_orders()
    assert (stop.trigger_price, stop.amount) == (D("48510"), bot.kit.qty("0.010"))


async def test_limit_entry_cancelled_by_hand_is_an_orphan_and_closed(bot: Bot) -> None:
    commands = TradeCommands(bot.tracker)
    preview = await commands.preview_entry(ACCOUNT, BTC, Side.SHORT, bot.kit.qty("0.010"),
                                           D("52000"), D("53000"), None)
    pending = await commands.open_entry(preview)
    [resting] = bot.venue.open_orders()
    assert resting.price == D("52000")

    bot.venue.manual_cancel(resting.id)
    await bot.cycle()

    assert bot.trades() == []
    [record] = await bot.store.list_trades(ACCOUNT)
    assert record.id == pending.id and record.status is TradeStatus.CANCELLED


async def test_steady_cycle_requests(tmp_path: Path, kit: Kit,
                                     make_gateway: GatewayFactory) -> None:
    """A steady cycle (nothing changed) with 40 positions, each with a stop: one positions
    listing and one open-stops listing per settle-coin scope (Bybit sweeps linear USDT, linear
    USDC and inverse; a page holds 200 positions and 50 stops there, 100 orders on OKX, all
    of them on Binance)."""
    base = kit.markets()[0]
    markets = [Market(symbol=f"C{i}/USDT:USDT", base=f"C{i}", quote="USDT", settle="USDT",
                      contract_size=base.contract_size, amount_step=D("0.001"),
                      price_tick=D("0.01")) for i in range(40)]
    if kit.scopes > 1:
        markets.append(next(m for m in kit.markets() if m.settle == "USDC"))
    venue = PaperExchange(markets, marks={m.symbol: D("10") for m in markets})
    async for bot in _bot(tmp_path, kit, venue, make_gateway):
        for market in markets[:40]:
            venue.manual_order(market.symbol, BUY, D(1) / market.contract_size)
        await bot.cycle()
        for trade in bot.trades():
            assert (await TradeCommands(bot.tracker).set_stop_loss(trade.id, D("9"))).placed
        await bot.cycle()
        bot.server.requests.clear()

        report = await bot.cycle()

        assert report.positions == 40 and report.changes == ()
        assert dict(bot.server.requests) == {f"GET {kit.positions}": kit.scopes,
                                             f"GET {kit.stops}": kit.scopes}
        assert report.exchange_calls == 2 * kit.scopes
