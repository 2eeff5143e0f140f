"""The real tracker and a real SQLite file, driving real ccxt against the fake Binance server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import BinanceServer
from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import ChangeKind, OrderSide, Side, Trade, TradeStatus
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange, default_markets, synthetic_markets
from tests.support.exchange import BTC, FAST_RETRY, MARKS, GatewayFactory

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
CHAT = 1001
ACCOUNT = "acc-1"


@dataclass
class Bot:
    server: BinanceServer
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


async def _bot(tmp_path: Path, venue: PaperExchange, make_gateway: GatewayFactory
               ) -> AsyncIterator[Bot]:
    async with BinanceServer(venue) as server:
        gateway = make_gateway(server)
        store = await Store.open(tmp_path / "state.db", recipients=fixed_recipients([CHAT]))
        settings = TrackerSettings(verify_delay=0.05, dust=DustPolicy(D("5")))
        tracker = SimplePositionTracker(store, {ACCOUNT: gateway}, settings, utc_now,
                                        asyncio.sleep)
        await tracker.start()
        bot = Bot(server, venue, gateway, store, tracker)
        await bot.cycle()
        yield bot
        await store.close()


@pytest.fixture
async def bot(tmp_path: Path, make_gateway: GatewayFactory) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, PaperExchange(default_markets(), marks=MARKS),
                           make_gateway):
        yield made


async def test_manual_trading_is_tracked_with_exact_figures(bot: Bot) -> None:
    bot.venue.manual_order(BTC, BUY, D("0.010"))
    assert [c.kind for c in (await bot.cycle()).changes] == [ChangeKind.OPENED]

    bot.venue.set_mark(BTC, D("53000"))
    bot.venue.manual_order(BTC, BUY, D("0.020"))
    await bot.cycle()
    [trade] = bot.trades()
    assert (trade.size, trade.avg_entry_price) == (D("0.030"), D("52000"))

    bot.venue.set_mark(BTC, D("54000"))
    bot.venue.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    [decrease] = (await bot.cycle()).changes
    assert decrease.kind is ChangeKind.DECREASED and not decrease.estimated
    assert decrease.price == D("54000")
    assert decrease.realized_pnl == D("20") - D("0.216")  # (54000-52000)*0.01 less the fee

    bot.venue.manual_order(BTC, SELL, D("0.030"))  # flips to a 0.010 short
    [flip] = (await bot.cycle()).changes
    assert flip.kind is ChangeKind.FLIPPED
    [short] = bot.trades()
    assert (short.side, short.size, short.avg_entry_price) == (Side.SHORT, D("0.010"),
                                                               D("54000"))

    bot.venue.manual_order(BTC, BUY, D("0.010"), reduce_only=True)
    assert [c.kind for c in (await bot.cycle()).changes] == [ChangeKind.CLOSED]
    assert bot.trades() == []
    assert await bot.kinds() == ["opened", "increased", "decreased", "flipped", "closed"]


async def test_stop_loss_is_placed_and_its_hit_reported_with_the_fill_price(bot: Bot) -> None:
    bot.venue.manual_order(BTC, BUY, D("0.010"))
    await bot.cycle()
    [trade] = bot.trades()

    result = await TradeCommands(bot.tracker).set_stop_loss(trade.id, D("49000"))

    assert result.placed
    [sent] = bot.server.sent("/fapi/v1/algoOrder")
    assert (sent["side"], sent["quantity"], sent["triggerPrice"], sent["reduceOnly"]) == (
        "SELL", "0.01", "49000", "true")
    bot.venue.set_mark(BTC, D("48900.5"))
    [closed] = (await bot.cycle()).changes
    assert closed.kind is ChangeKind.CLOSED and closed.price == D("48900.5")
    record = (await bot.store.list_trades(ACCOUNT))[0]
    assert record.status is TradeStatus.CLOSED
    assert (await bot.kinds())[-1] == "stop_loss_hit"


async def test_a_transient_empty_position_list_closes_nothing(bot: Bot) -> None:
    bot.venue.manual_order(BTC, BUY, D("0.010"))
    await bot.cycle()
    bot.server.inject(Fault.empty_list("/positionRisk"))

    report = await bot.cycle()

    assert report.changes == () and len(bot.trades()) == 1
    assert bot.server.count("/positionRisk") == 4  # the first sync, the open, and a verified pair


async def test_faults_inside_a_cycle_are_retried(bot: Bot) -> None:
    bot.venue.manual_order(BTC, BUY, D("0.010"))
    bot.server.inject(Fault.rate_limited("/positionRisk"),
                      Fault.slow(FAST_RETRY.call_timeout + 0.3, "/positionRisk"))

    report = await bot.cycle()

    assert [c.kind for c in report.changes] == [ChangeKind.OPENED]
    assert bot.server.count("/positionRisk") == 1 + FAST_RETRY.attempts


async def test_an_authentication_error_is_clear_and_changes_nothing(bot: Bot) -> None:
    bot.venue.manual_order(BTC, BUY, D("0.010"))
    await bot.cycle()
    bot.venue.manual_order(BTC, SELL, D("0.010"))
    bot.server.inject(Fault.auth_error("/positionRisk"))

    report = await bot.tracker.run_cycle(ACCOUNT)

    assert not report.ok and "authentication failed" in report.errors[0]
    assert len(bot.trades()) == 1 and bot.server.count("/positionRisk") == 3


async def test_steady_cycle_with_many_stops_makes_two_requests(tmp_path: Path,
                                                              make_gateway: GatewayFactory) -> None:
    markets = synthetic_markets(150)
    venue = PaperExchange(markets, marks={m.symbol: D("10") for m in markets})
    async for bot in _bot(tmp_path, venue, make_gateway):
        for market in markets:
            venue.manual_order(market.symbol, BUY, D("1.000"))
        await bot.cycle()
        for trade in bot.trades():
            assert (await TradeCommands(bot.tracker).set_stop_loss(trade.id, D("9"))).placed
        await bot.cycle()
        bot.server.requests.clear()

        report = await bot.cycle()

        assert report.positions == 150 and report.changes == ()
        assert dict(bot.server.requests) == {"GET /fapi/v3/positionRisk": 1,
                                             "GET /fapi/v1/openAlgoOrders": 1}
        assert report.exchange_calls == 2
