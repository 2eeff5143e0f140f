"""Stop losses and bot orders through real ccxt on every exchange: placed, listed, resized,
cancelled, hit, removed by hand, partly filled; market and limit entries; reduce-only exits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from positionbot.tracker.core.models import OrderSide, OrderStatus, Side
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.kits import BTC, ETH, Kit, Server

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SL = "pb-7-sl-0123456789"


def _since() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


async def test_stop_placed_listed_and_found_by_id_and_client_id(
        kit: Kit, gateway: CcxtGateway, venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, kit.qty("0.015"))

    placed = await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.015"), D("48000.04"), SL,
                                           hedge=False)

    assert placed.is_stop and placed.status is OrderStatus.OPEN
    assert (placed.side, placed.amount, placed.trigger_price) == (SELL, kit.qty("0.015"),
                                                                  D("48000"))
    assert placed.reduce_only and placed.client_order_id == SL
    [resting] = venue.open_stop_orders()
    assert resting.trigger_price == D("48000") and resting.amount == kit.qty("0.015")
    [listed] = await gateway.fetch_open_stop_orders()
    assert (listed.id, listed.client_order_id, listed.trigger_price) == (placed.id, SL, D("48000"))
    assert await gateway.fetch_open_orders() == []  # stops never count as ordinary orders
    by_id = await gateway.fetch_order(BTC, order_id=placed.id, stop=True)
    by_client = await gateway.fetch_order(BTC, client_order_id=SL, stop=True)
    assert by_id == by_client and by_id is not None and by_id.id == placed.id


async def test_stop_resized_then_cancelled(kit: Kit, gateway: CcxtGateway,
                                           venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    first = await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("48000"), SL, False)
    venue.manual_order(BTC, BUY, kit.qty("0.010"))

    bigger = await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.020"), D("48000"),
                                           "pb-7-sl-9999999999", False)
    await gateway.cancel_order(BTC, first.id, stop=True)

    assert [(o.id, o.amount) for o in await gateway.fetch_open_stop_orders()] == [
        (bigger.id, kit.qty("0.020"))]
    cancelled = await gateway.fetch_order(BTC, order_id=first.id, stop=True)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELED

    await gateway.cancel_order(BTC, bigger.id, stop=True)
    await gateway.cancel_order(BTC, bigger.id, stop=True)  # already gone: not an error
    assert await gateway.fetch_open_stop_orders() == []


async def test_stop_hit_links_to_the_fill_of_the_order_it_became(
        kit: Kit, gateway: CcxtGateway, venue: PaperExchange) -> None:
    since = _since()
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("49000"), SL, False)

    venue.set_mark(BTC, D("48950.5"))

    fired = await gateway.fetch_order(BTC, order_id=stop.id, stop=True)
    assert fired is not None and fired.status is OrderStatus.TRIGGERED
    exit_fill = (await gateway.fetch_fills(BTC, since))[-1]
    assert fired.triggered_order_id == exit_fill.order_id
    assert (exit_fill.side, exit_fill.amount, exit_fill.price) == (SELL, kit.qty("0.010"),
                                                                    D("48950.5"))
    assert await gateway.fetch_open_stop_orders() == []
    assert (await gateway.fetch_positions()).positions == ()


async def test_stop_removed_by_hand_reads_as_cancelled(kit: Kit, gateway: CcxtGateway,
                                                       venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("45000"), SL, False)

    venue.manual_cancel(kit.vid(stop.id))

    assert await gateway.fetch_open_stop_orders() == []
    found = await gateway.fetch_order(BTC, order_id=stop.id, stop=True)
    assert found is not None and found.status is OrderStatus.CANCELED


async def test_stop_larger_than_the_position_fills_only_what_is_left(
        kit: Kit, gateway: CcxtGateway, venue: PaperExchange) -> None:
    since = _since()
    venue.manual_order(BTC, BUY, kit.qty("0.020"))
    await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.020"), D("49000"), SL, False)
    venue.manual_order(BTC, SELL, kit.qty("0.015"), reduce_only=True)  # closed partly by hand

    venue.set_mark(BTC, D("48900"))

    fills = await gateway.fetch_fills(BTC, since)
    assert [(f.side, f.amount, f.price) for f in fills[-1:]] == [(SELL, kit.qty("0.005"),
                                                                  D("48900"))]
    assert (await gateway.fetch_positions()).positions == ()


async def test_hedge_stop_closes_its_own_leg(kit: Kit, hedge_gateway: CcxtGateway,
                                             hedge_venue: PaperExchange) -> None:
    hedge_venue.manual_order(BTC, BUY, kit.qty("0.010"), position_side=Side.LONG)
    hedge_venue.manual_order(BTC, SELL, kit.qty("0.010"), position_side=Side.SHORT)

    stop = await hedge_gateway.place_stop_loss(BTC, Side.SHORT, kit.qty("0.010"), D("52000"),
                                                SL, hedge=True)

    assert stop.position_side is Side.SHORT and stop.side is BUY
    [listed] = await hedge_gateway.fetch_open_stop_orders()
    assert listed.position_side is Side.SHORT
    hedge_venue.set_mark(BTC, D("52100"))
    legs = {p.side: p.size for p in (await hedge_gateway.fetch_positions()).positions}
    assert legs == {Side.LONG: kit.qty("0.010")}


async def test_stop_that_would_fire_at_once_is_refused(kit: Kit, gateway: CcxtGateway,
                                                       server: Server,
                                                       venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, kit.qty("0.010"))

    with pytest.raises(OrderRejectedError):
        await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("50500"), SL, False)

    assert server.count(kit.create_stop, "POST") == 1 and venue.open_stop_orders() == []


async def test_market_entry_fills_and_limit_entry_rests(kit: Kit, gateway: CcxtGateway,
                                                        venue: PaperExchange) -> None:
    market = await gateway.place_entry(BTC, Side.LONG, kit.qty("0.010"), None,
                                       "pb-8-entry-aaaa", hedge=False)
    limit = await gateway.place_entry(ETH, Side.SHORT, kit.qty("0.500", ETH), D("3100.004"),
                                      "pb-9-entry-bbbb", False)

    assert market.status is OrderStatus.CLOSED and market.filled == kit.qty("0.010")
    assert market.client_order_id == "pb-8-entry-aaaa" and not market.reduce_only
    assert limit.status is OrderStatus.OPEN and limit.price == D("3100")
    assert (limit.side, limit.amount) == (SELL, kit.qty("0.500", ETH))
    [resting] = await gateway.fetch_open_orders()
    assert (resting.id, resting.client_order_id) == (limit.id, "pb-9-entry-bbbb")
    venue.fill_order(kit.vid(limit.id), kit.qty("0.200", ETH))
    partial = await gateway.fetch_order(ETH, client_order_id="pb-9-entry-bbbb")
    assert partial is not None and partial.status is OrderStatus.OPEN
    assert partial.filled == kit.qty("0.200", ETH)
    await gateway.cancel_order(ETH, limit.id)
    assert await gateway.fetch_open_orders() == []


async def test_hedge_entry_and_reduce_use_the_leg(kit: Kit, hedge_gateway: CcxtGateway,
                                                  hedge_venue: PaperExchange) -> None:
    await hedge_gateway.place_entry(BTC, Side.SHORT, kit.qty("0.020"), None, "pb-1-entry-h",
                                    hedge=True)
    await hedge_gateway.place_entry(BTC, Side.LONG, kit.qty("0.010"), None, "pb-2-entry-h", True)
    closed = await hedge_gateway.place_reduce(BTC, Side.SHORT, kit.qty("0.005"), "pb-1-close-h",
                                              hedge=True)

    assert closed.filled == kit.qty("0.005") and closed.position_side is Side.SHORT
    legs = {p.side: p.size for p in hedge_venue.positions()}
    assert legs == {Side.SHORT: kit.qty("0.015"), Side.LONG: kit.qty("0.010")}


async def test_one_way_reduce_only_exit(kit: Kit, gateway: CcxtGateway,
                                        venue: PaperExchange) -> None:
    venue.manual_order(ETH, SELL, kit.qty("0.300", ETH))

    order = await gateway.place_reduce(ETH, Side.SHORT, kit.qty("0.100", ETH), "pb-3-close-x",
                                       hedge=False)

    assert order.reduce_only and order.side is BUY
    assert venue.positions()[0].size == kit.qty("0.200", ETH)


async def test_reduce_only_refusal_is_a_rejection_not_retried(kit: Kit, gateway: CcxtGateway,
                                                              server: Server) -> None:
    with pytest.raises(OrderRejectedError):
        await gateway.place_reduce(BTC, Side.LONG, kit.qty("0.010"), "pb-4-close-x", hedge=False)

    assert server.count(kit.create, "POST") == 1


async def test_unknown_order_is_none(gateway: CcxtGateway) -> None:
    await gateway.markets()
    assert await gateway.fetch_order(BTC, client_order_id="pb-5-sl-nope", stop=True) is None
    assert await gateway.fetch_order(BTC, client_order_id="pb-5-entry-nope") is None
