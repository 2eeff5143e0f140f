"""Positions and markets through real ccxt against the fake Binance server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import BinanceServer
from positionbot.tracker.core.models import OrderSide, PositionMode, Side
from positionbot.tracker.engine.ports import TransientExchangeError
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange, synthetic_markets
from tests.support.exchange import BTC, ETH, SOL, GatewayFactory

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def test_markets_carry_binance_filters_exactly(gateway: CcxtGateway,
                                                     server: BinanceServer) -> None:
    markets = await gateway.markets()

    btc = markets[BTC]
    assert (btc.base, btc.quote, btc.settle) == ("BTC", "USDT", "USDT")
    assert (btc.amount_step, btc.price_tick, btc.min_amount, btc.min_notional) == (
        D("0.001"), D("0.1"), D("0.001"), D("100"))
    assert btc.contract_size == D(1)
    assert markets["DOGE/USDT:USDT"].price_tick == D("0.00001")
    assert await gateway.markets() is markets
    assert server.count("/exchangeInfo") == 1


async def test_markets_are_reloaded_after_their_ttl(make_gateway: GatewayFactory,
                                                    server: BinanceServer) -> None:
    gateway = make_gateway(server, markets_ttl=0.0)

    await gateway.markets()
    await gateway.markets()

    assert server.count("/exchangeInfo") == 2


async def test_one_way_position_is_exact(gateway: CcxtGateway, server: BinanceServer,
                                         venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))
    venue.set_mark(BTC, D("50100"))
    venue.manual_order(BTC, BUY, D("0.007"))
    venue.set_mark(BTC, D("50123.4"))
    server.leverage[BTC] = 7
    server.liquidation[BTC] = D("41234.56789")

    snapshot = await gateway.fetch_positions()

    assert snapshot.mode is PositionMode.ONE_WAY
    [position] = snapshot.positions
    [expected] = venue.positions()
    assert position.symbol == BTC and position.side is Side.LONG
    assert position.size == D("0.017")
    assert position.entry_price == expected.entry_price  # the weighted average, every digit
    assert position.entry_price == (D("0.010") * 50000 + D("0.007") * 50100) / D("0.017")
    assert position.mark_price == D("50123.4")
    assert position.unrealized_pnl == expected.unrealized_pnl
    assert position.leverage == D(7)
    assert position.margin_mode == "cross"
    assert position.liquidation_price == D("41234.56789")
    assert position.contract_size == D(1)


async def test_one_way_short_and_several_symbols(gateway: CcxtGateway,
                                                 venue: PaperExchange) -> None:
    venue.manual_order(ETH, SELL, D("1.250"))
    venue.manual_order(SOL, BUY, D("3.00"))

    snapshot = await gateway.fetch_positions()

    by_symbol = {p.symbol: p for p in snapshot.positions}
    assert by_symbol[ETH].side is Side.SHORT and by_symbol[ETH].size == D("1.250")
    assert by_symbol[ETH].entry_price == D("3000")
    assert by_symbol[ETH].liquidation_price is None  # Binance's "0" means none
    assert by_symbol[SOL].side is Side.LONG and by_symbol[SOL].size == D("3.00")


async def test_hedge_mode_reports_both_legs(hedge_gateway: CcxtGateway,
                                            hedge_venue: PaperExchange) -> None:
    hedge_venue.manual_order(BTC, BUY, D("0.020"), position_side=Side.LONG)
    hedge_venue.manual_order(BTC, SELL, D("0.005"), position_side=Side.SHORT)

    snapshot = await hedge_gateway.fetch_positions()

    assert snapshot.mode is PositionMode.HEDGE
    legs = {p.side: p.size for p in snapshot.positions if p.symbol == BTC}
    assert legs == {Side.LONG: D("0.020"), Side.SHORT: D("0.005")}


async def test_a_closed_position_is_dropped(gateway: CcxtGateway, venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))
    venue.manual_order(ETH, BUY, D("0.100"))
    venue.manual_order(BTC, SELL, D("0.010"))

    snapshot = await gateway.fetch_positions()

    assert [p.symbol for p in snapshot.positions] == [ETH]


async def test_zero_size_entries_are_dropped(gateway: CcxtGateway, server: BinanceServer,
                                             venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))
    venue.manual_order(ETH, BUY, D("0.100"))

    def zero_eth(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{**row, "positionAmt": "0.000"} if row["symbol"] == "ETHUSDT" else row
                for row in rows]

    server.inject(Fault.rewrite(zero_eth, "/positionRisk"))
    snapshot = await gateway.fetch_positions()

    assert [p.symbol for p in snapshot.positions] == [BTC]


async def test_empty_position_list_is_an_empty_snapshot(gateway: CcxtGateway,
                                                        server: BinanceServer,
                                                        venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))
    await gateway.fetch_positions()
    server.inject(Fault.empty_list("/positionRisk"))

    snapshot = await gateway.fetch_positions()

    # Not an error: deciding that a vanished list is not a flat account is the tracker's job.
    assert snapshot.positions == ()
    assert snapshot.mode is PositionMode.ONE_WAY
    assert len((await gateway.fetch_positions()).positions) == 1


async def test_mode_of_a_flat_account_is_asked_once(hedge_gateway: CcxtGateway,
                                                    hedge_server: BinanceServer) -> None:
    first = await hedge_gateway.fetch_positions()
    second = await hedge_gateway.fetch_positions()

    assert first.mode is second.mode is PositionMode.HEDGE
    assert first.positions == ()
    assert hedge_server.count("/positionSide/dual") == 1


async def test_malformed_position_entry_changes_nothing(gateway: CcxtGateway,
                                                        server: BinanceServer,
                                                        venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))

    def garbage(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{**row, "positionAmt": "1.2.3"} for row in rows]

    server.inject(Fault.rewrite(garbage, "/positionRisk"))
    with pytest.raises(TransientExchangeError, match="malformed"):
        await gateway.fetch_positions()

    assert len((await gateway.fetch_positions()).positions) == 1


async def test_steady_fetch_costs_two_requests_with_many_positions(
        make_gateway: GatewayFactory) -> None:
    markets = synthetic_markets(300)
    venue = PaperExchange(markets, marks={m.symbol: D("10") for m in markets})
    for market in markets:
        venue.manual_order(market.symbol, BUY, D("1.000"))
    async with BinanceServer(venue) as server:
        gateway = make_gateway(server)
        await gateway.fetch_positions()
        await gateway.fetch_open_stop_orders()
        server.requests.clear()
        calls_before = gateway.calls

        snapshot = await gateway.fetch_positions()
        stops = await gateway.fetch_open_stop_orders()

        assert len(snapshot.positions) == 300 and stops == []
        assert dict(server.requests) == {"GET /fapi/v3/positionRisk": 1,
                                         "GET /fapi/v1/openAlgoOrders": 1}
        assert gateway.calls - calls_before == server.total_requests == 2


async def test_calls_count_every_request_including_market_loads(gateway: CcxtGateway,
                                                                server: BinanceServer) -> None:
    await gateway.fetch_positions()
    await gateway.fetch_open_orders()

    assert gateway.calls == server.total_requests >= 4


async def test_a_market_without_usable_precision_is_left_out(gateway: CcxtGateway,
                                                             server: BinanceServer) -> None:
    def strip_eth_price_rules(info: dict[str, Any]) -> dict[str, Any]:
        for entry in info["symbols"]:
            if entry["symbol"] == "ETHUSDT":
                del entry["pricePrecision"]
                entry["filters"] = [f for f in entry["filters"]
                                    if f["filterType"] != "PRICE_FILTER"]
        return info

    server.inject(Fault.rewrite(strip_eth_price_rules, "/exchangeInfo"))

    markets = await gateway.markets()

    assert BTC in markets and ETH not in markets
