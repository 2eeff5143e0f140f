"""Fills through ccxt's ``fetch_my_trades``: exact figures, paging and week windows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.tracker.core.models import Fill, OrderSide, Side
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.support.clock import HandClock
from tests.support.exchange import BTC, ETH, MARKS, SOL, GatewayFactory

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.fixture
def clock() -> HandClock:
    return HandClock(datetime.now(UTC))


@pytest.fixture
def venue(clock: HandClock) -> PaperExchange:
    """The venue on a hand clock started now: a test moves time instead of sleeping."""
    return PaperExchange(default_markets(), marks=MARKS, clock=clock)


def _key(fill: Fill) -> tuple[object, ...]:
    return (fill.id, fill.order_id, fill.symbol, fill.side, fill.amount, fill.price, fill.fee,
            fill.position_side)


async def test_fills_are_exact(gateway: CcxtGateway, venue: PaperExchange) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    venue.manual_order(BTC, BUY, D("0.010"))
    venue.set_mark(BTC, D("50321.7"))
    venue.manual_order(BTC, BUY, D("0.004"))
    venue.manual_order(BTC, SELL, D("0.020"))  # closes the long and flips short
    venue.manual_order(ETH, BUY, D("0.100"))

    fills = await gateway.fetch_fills(BTC, since)

    expected = [f for f in venue.fills if f.symbol == BTC]
    assert [_key(f) for f in fills] == [_key(f) for f in expected]
    assert fills[1].fee == D("0.004") * D("50321.7") * D("0.0004")
    for got, want in zip(fills, expected, strict=True):
        assert abs(got.timestamp - want.timestamp) < timedelta(milliseconds=1)
        assert got.timestamp.tzinfo is not None


async def test_fills_before_since_are_left_out(gateway: CcxtGateway, venue: PaperExchange,
                                               clock: HandClock) -> None:
    venue.manual_order(SOL, BUY, D("1.00"))
    since = clock() + timedelta(milliseconds=5)
    clock.advance(0.01)
    venue.manual_order(SOL, SELL, D("0.40"))

    fills = await gateway.fetch_fills(SOL, since)

    assert [(f.side, f.amount) for f in fills] == [(SELL, D("0.40"))]


async def test_hedge_fills_carry_their_position_side(hedge_gateway: CcxtGateway,
                                                     hedge_venue: PaperExchange) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    hedge_venue.manual_order(ETH, SELL, D("0.200"), position_side=Side.SHORT)
    hedge_venue.manual_order(ETH, BUY, D("0.050"), position_side=Side.SHORT)

    fills = await hedge_gateway.fetch_fills(ETH, since)

    assert [(f.side, f.position_side) for f in fills] == [(SELL, Side.SHORT), (BUY, Side.SHORT)]


async def test_more_fills_than_a_page_are_paged_by_trade_id(gateway: CcxtGateway,
                                                            server: BinanceServer,
                                                            venue: PaperExchange) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    for i in range(1001):
        venue.manual_order(SOL, BUY if i % 2 == 0 else SELL, D("0.04"))

    fills = await gateway.fetch_fills(SOL, since)

    assert [f.id for f in fills] == [f.id for f in venue.fills]
    first, second = server.sent("/userTrades", "GET")
    assert "startTime" in first and first["limit"] == "1000"
    assert "startTime" not in second and int(second["fromId"]) == int(fills[999].id) + 1


async def test_a_gap_longer_than_a_week_is_walked_window_by_window(
        make_gateway: GatewayFactory) -> None:
    now = datetime.now(UTC)
    moment = [now - timedelta(days=10)]
    venue = PaperExchange(default_markets(), marks=MARKS, clock=lambda: moment[0])
    venue.manual_order(ETH, BUY, D("0.100"))
    moment[0] = now - timedelta(days=2)
    venue.manual_order(ETH, SELL, D("0.100"))
    async with BinanceServer(venue) as server:
        gateway = make_gateway(server)

        fills = await gateway.fetch_fills(ETH, now - timedelta(days=12))

        assert [f.side for f in fills] == [BUY, SELL]
        first, second = server.sent("/userTrades", "GET")
        assert int(first["endTime"]) - int(first["startTime"]) == 7 * 24 * 3600 * 1000
        assert int(second["startTime"]) == int(first["endTime"]) + 1


@pytest.fixture
async def raw_ccxt(server: BinanceServer) -> AsyncIterator[ccxt.binanceusdm]:
    exchange = ccxt.binanceusdm({"apiKey": "k", "secret": "s", **ccxt_config_for(server.base_url)})
    yield exchange
    await exchange.close()


async def test_server_reports_realized_pnl_and_commission_per_fill(
        raw_ccxt: ccxt.binanceusdm, venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))
    venue.set_mark(BTC, D("51000"))
    venue.manual_order(BTC, SELL, D("0.004"))

    trades = await raw_ccxt.fetch_my_trades(BTC)

    assert [t["info"]["realizedPnl"] for t in trades] == ["0", "4.000"]
    assert [t["info"]["commission"] for t in trades] == [
        str(f.fee) for f in venue.fills]
    assert {t["info"]["commissionAsset"] for t in trades} == {"USDT"}
