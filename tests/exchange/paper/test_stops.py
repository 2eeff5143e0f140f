"""Stop losses as Binance's Algo service keeps them: apart from orders, firing into a new order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.tracker.core.models import OrderSide, OrderStatus, Side
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway
from tests.support.paper import BTC, ETH, HandClock, d

BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def test_stop_loss_is_a_reduce_only_stop_market_order(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, d("0.2"), d("49000"), "sl-1", hedge=False)

    assert (stop.side, stop.type, stop.status, stop.amount, stop.trigger_price) == (
        SELL, "stop_market", OrderStatus.OPEN, d("0.2"), d("49000"))
    assert stop.is_stop and stop.reduce_only and stop.client_order_id == "sl-1"
    assert stop.position_side is None and stop.price is None


async def test_stops_are_listed_and_found_only_as_stops(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    entry = exchange.manual_order(BTC, BUY, d("0.1"), price=d("45000"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, d("0.2"), d("49000"), "sl-1", hedge=False)

    assert await gateway.fetch_open_orders() == [entry]
    assert await gateway.fetch_open_stop_orders() == [stop]
    assert await gateway.fetch_order(BTC, order_id=stop.id) is None
    assert await gateway.fetch_order(BTC, order_id=stop.id, stop=True) == stop
    assert await gateway.fetch_order(BTC, client_order_id="sl-1", stop=True) == stop
    assert await gateway.fetch_order(BTC, order_id=entry.id, stop=True) is None


async def test_fired_stop_becomes_a_new_market_order_whose_fill_carries_its_id(
        exchange: PaperExchange, gateway: PaperGateway, clock: HandClock) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, d("0.2"), d("49000"), "sl-1", hedge=False)

    assert exchange.set_mark(BTC, d("49500")) == []
    fired_at = clock.advance(60)
    [fill] = exchange.set_mark(BTC, d("48900"))

    fired = await gateway.fetch_order(BTC, order_id=stop.id, stop=True)
    assert fired is not None and fired.status is OrderStatus.TRIGGERED
    assert fired.triggered_order_id == fill.order_id != stop.id
    child = await gateway.fetch_order(BTC, order_id=fill.order_id)
    assert child is not None and not child.is_stop
    assert (child.type, child.status, child.side, child.amount, child.filled, child.reduce_only) == (
        "market", OrderStatus.CLOSED, SELL, d("0.2"), d("0.2"), True)
    assert (fill.price, fill.amount, fill.fee) == (d("48900"), d("0.2"), d("3.912"))
    assert exchange.positions() == [] and exchange.realized_pnl() == d("-220")
    assert await gateway.fetch_open_stop_orders() == []
    assert fill.timestamp == fired_at
    assert await gateway.fetch_fills(BTC, fired_at) == [fill]


async def test_buy_stop_for_a_short_fires_when_the_mark_rises(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(ETH, SELL, d("1"))
    stop = await gateway.place_stop_loss(ETH, Side.SHORT, d("1"), d("3100"), "sl-2", hedge=False)
    assert stop.side is BUY

    assert exchange.set_mark(ETH, d("3099.99")) == []
    [fill] = exchange.set_mark(ETH, d("3100.5"))
    assert (fill.side, fill.price) == (BUY, d("3100.5"))
    assert exchange.realized_pnl(ETH) == d("-100.5")


@pytest.mark.parametrize(("symbol", "side", "trigger"), [
    (BTC, Side.LONG, d("50000")),  # a sell stop at or above the mark
    (BTC, Side.LONG, d("50100")),
    (BTC, Side.SHORT, d("49000")),  # a buy stop below the mark
])
async def test_stop_that_would_trigger_immediately_is_rejected(
        gateway: PaperGateway, symbol: str, side: Side, trigger: Decimal) -> None:
    with pytest.raises(OrderRejectedError, match="-2021 Order would immediately trigger"):
        await gateway.place_stop_loss(symbol, side, d("0.1"), trigger, "sl-x", hedge=False)
    assert await gateway.fetch_open_stop_orders() == []


async def test_stop_trigger_must_be_on_the_tick(gateway: PaperGateway) -> None:
    with pytest.raises(OrderRejectedError, match="trigger price"):
        await gateway.place_stop_loss(BTC, Side.LONG, d("0.1"), d("40000.05"), "sl", hedge=False)


async def test_stop_firing_with_nothing_to_close_expires_without_an_order(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    stop = await gateway.place_stop_loss(BTC, Side.LONG, d("0.1"), d("49000"), "sl-3", hedge=False)
    assert exchange.set_mark(BTC, d("48000")) == []

    expired = exchange.find_order(BTC, order_id=stop.id, stop=True)
    assert expired is not None
    assert (expired.status, expired.triggered_order_id) == (OrderStatus.EXPIRED, None)
    assert exchange.positions() == [] and exchange.fills == []


async def test_stop_larger_than_the_position_closes_only_the_position(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(BTC, BUY, d("0.3"))
    await gateway.place_stop_loss(BTC, Side.LONG, d("0.5"), d("49000"), "sl-4", hedge=False)
    [fill] = exchange.set_mark(BTC, d("48000"))
    assert fill.amount == d("0.3") and exchange.positions() == []


async def test_cancelling_a_stop_needs_the_stop_flag(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, d("0.2"), d("49000"), "sl-5", hedge=False)

    await gateway.cancel_order(BTC, stop.id)  # the ordinary endpoint does not know it
    assert await gateway.fetch_open_stop_orders() == [stop]
    await gateway.cancel_order(BTC, stop.id, stop=True)
    assert await gateway.fetch_open_stop_orders() == []
    await gateway.cancel_order(BTC, stop.id, stop=True)  # already gone: no error
    assert exchange.set_mark(BTC, d("48000")) == []
    canceled = exchange.find_order(BTC, order_id=stop.id, stop=True)
    assert canceled is not None and canceled.status is OrderStatus.CANCELED


async def test_a_stop_removed_by_hand_is_canceled(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, d("0.2"), d("49000"), "sl-6", hedge=False)
    exchange.manual_cancel(stop.id)

    gone = await gateway.fetch_order(BTC, client_order_id="sl-6", stop=True)
    assert gone is not None and gone.status is OrderStatus.CANCELED
    assert await gateway.fetch_open_stop_orders() == []


async def test_hedge_mode_stops_close_their_own_leg(hedge_exchange: PaperExchange) -> None:
    gateway = PaperGateway(hedge_exchange)
    hedge_exchange.manual_order(BTC, BUY, d("0.2"), position_side=Side.LONG)
    hedge_exchange.manual_order(BTC, SELL, d("0.1"), position_side=Side.SHORT)
    stop = await gateway.place_stop_loss(BTC, Side.LONG, d("0.2"), d("49000"), "sl-7", hedge=True)
    assert (stop.side, stop.position_side) == (SELL, Side.LONG)

    [fill] = hedge_exchange.set_mark(BTC, d("48000"))
    assert (fill.position_side, fill.amount) == (Side.LONG, d("0.2"))
    assert [(p.side, p.size) for p in hedge_exchange.positions()] == [(Side.SHORT, d("0.1"))]


async def test_stop_hedge_flag_must_match_the_account_mode(
        exchange: PaperExchange, hedge_exchange: PaperExchange, gateway: PaperGateway) -> None:
    with pytest.raises(OrderRejectedError, match="-4061"):
        await gateway.place_stop_loss(BTC, Side.LONG, d("0.1"), d("49000"), "sl", hedge=True)
    with pytest.raises(OrderRejectedError, match="-4061"):
        await PaperGateway(hedge_exchange).place_stop_loss(
            BTC, Side.LONG, d("0.1"), d("49000"), "sl", hedge=False)
    with pytest.raises(OrderRejectedError, match="-4061"):
        hedge_exchange.place_stop(BTC, BUY, d("0.1"), d("49000"), position_side=Side.LONG)
