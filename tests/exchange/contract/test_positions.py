"""Positions through real ccxt on every exchange: one-way lifecycle, hedge legs, exact figures
with contract sizes, empty lists, and the requests a steady listing costs."""

from __future__ import annotations

from decimal import Decimal

from positionbot.tracker.core.models import OrderSide, PositionMode, Side
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.conftest import GatewayFactory
from tests.exchange.contract.kits import BTC, ETH, Kit, Server

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def _legs(gateway: CcxtGateway) -> dict[tuple[str, Side], tuple[Decimal, Decimal]]:
    snapshot = await gateway.fetch_positions()
    return {(p.symbol, p.side): (p.size, p.entry_price) for p in snapshot.positions}


async def test_one_way_open_increase_partial_close_flip_close(
        kit: Kit, gateway: CcxtGateway, venue: PaperExchange) -> None:
    q = kit.qty
    venue.manual_order(BTC, BUY, q("0.010"))
    assert await _legs(gateway) == {(BTC, Side.LONG): (q("0.010"), D("50000"))}

    venue.set_mark(BTC, D("50300"))
    venue.manual_order(BTC, BUY, q("0.020"))
    entry = (D("0.010") * 50000 + D("0.020") * 50300) / D("0.030")
    assert await _legs(gateway) == {(BTC, Side.LONG): (q("0.030"), entry)}

    venue.manual_order(BTC, SELL, q("0.010"), reduce_only=True)
    assert await _legs(gateway) == {(BTC, Side.LONG): (q("0.020"), entry)}

    venue.set_mark(BTC, D("49000"))
    venue.manual_order(BTC, SELL, q("0.050"))  # closes the long, opens 0.030 short
    snapshot = await gateway.fetch_positions()
    assert snapshot.mode is PositionMode.ONE_WAY
    assert {(p.symbol, p.side): (p.size, p.entry_price) for p in snapshot.positions} == {
        (BTC, Side.SHORT): (q("0.030"), D("49000"))}

    venue.manual_order(BTC, BUY, q("0.030"), reduce_only=True)
    assert await _legs(gateway) == {}


async def test_figures_are_exact_with_the_contract_size(kit: Kit, server: Server,
                                                        gateway: CcxtGateway,
                                                        venue: PaperExchange) -> None:
    q = kit.qty
    venue.manual_order(ETH, SELL, q("0.300", ETH))
    venue.set_mark(ETH, D("3012.34"))
    venue.manual_order(ETH, SELL, q("0.200", ETH))
    venue.set_mark(ETH, D("2999.87"))
    server.leverage[ETH] = 7
    server.liquidation[ETH] = D("4321.5")

    [position] = (await gateway.fetch_positions()).positions
    [expected] = venue.positions()

    market = (await gateway.markets())[ETH]
    assert position.contract_size == market.contract_size == expected.contract_size
    assert (position.side, position.size) == (Side.SHORT, q("0.500", ETH))
    assert position.entry_price == expected.entry_price  # the weighted average, every digit
    assert position.size * position.contract_size == D("0.500")
    assert position.mark_price == D("2999.87")
    assert position.unrealized_pnl == expected.unrealized_pnl
    assert position.unrealized_pnl == (expected.entry_price - D("2999.87")) * D("0.500")
    assert position.leverage == D(7) and position.liquidation_price == D("4321.5")


async def test_hedge_mode_reports_both_legs(kit: Kit, hedge_gateway: CcxtGateway,
                                            hedge_venue: PaperExchange) -> None:
    q = kit.qty
    hedge_venue.manual_order(BTC, BUY, q("0.020"), position_side=Side.LONG)
    hedge_venue.manual_order(BTC, SELL, q("0.005"), position_side=Side.SHORT)

    snapshot = await hedge_gateway.fetch_positions()

    assert snapshot.mode is PositionMode.HEDGE
    assert {p.side: p.size for p in snapshot.positions} == {Side.LONG: q("0.020"),
                                                            Side.SHORT: q("0.005")}


async def test_mode_of_a_flat_hedge_account_is_known(hedge_gateway: CcxtGateway) -> None:
    assert (await hedge_gateway.fetch_positions()).mode is PositionMode.HEDGE


async def test_an_empty_list_is_an_empty_snapshot_not_an_error(
        kit: Kit, server: Server, gateway: CcxtGateway, venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    await gateway.fetch_positions()
    server.inject(*[kit.empty_list(kit.positions)] * kit.scopes)

    # Deciding that a vanished list is not a flat account is the tracker's job.
    assert (await gateway.fetch_positions()).positions == ()
    assert len((await gateway.fetch_positions()).positions) == 1


async def test_many_positions_are_all_listed(kit: Kit, make_gateway: GatewayFactory) -> None:
    """More positions than one page on exchanges that page (Bybit: 200 per page)."""
    from positionbot.tracker.core.models import Market
    base = kit.markets()[0]
    markets = [Market(symbol=f"C{i}/USDT:USDT", base=f"C{i}", quote="USDT", settle="USDT",
                      contract_size=base.contract_size, amount_step=D("0.001"),
                      price_tick=D("0.01")) for i in range(230)]
    venue = PaperExchange(markets, marks={m.symbol: D("10") for m in markets})
    for market in markets:
        venue.manual_order(market.symbol, BUY, D("1.000"))
    server = kit.server(venue)
    await server.start()
    try:
        gateway = make_gateway(server)
        assert len((await gateway.fetch_positions()).positions) == 230
    finally:
        await server.stop()
