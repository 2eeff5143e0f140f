"""The gateway over the paper venue: request counting, fault injection, the order endpoints."""

from __future__ import annotations

import pytest

from positionbot.tracker.core.models import OrderSide, OrderStatus, PositionMode, Side
from positionbot.tracker.engine.ports import (
    OrderRejectedError,
    PermanentExchangeError,
    TransientExchangeError,
)
from positionbot.tracker.exchange.paper import Fault, PaperExchange, PaperGateway
from tests.support.paper import BTC, ETH, START, HandClock, d

BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def test_every_request_counts_and_manual_trading_does_not(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(BTC, BUY, d("0.1"))
    exchange.set_mark(BTC, d("50100"))
    assert gateway.calls == 0

    markets = await gateway.markets()
    await gateway.markets()  # cached after the first load
    await gateway.fetch_positions()
    await gateway.fetch_open_orders()
    await gateway.fetch_open_stop_orders()
    await gateway.fetch_order(BTC, order_id="1")
    await gateway.fetch_fills(BTC, START)
    await gateway.place_entry(BTC, Side.LONG, d("0.01"), d("40000"), "e-1", hedge=False)
    await gateway.place_reduce(BTC, Side.LONG, d("0.05"), "r-1", hedge=False)
    await gateway.place_stop_loss(BTC, Side.LONG, d("0.05"), d("45000"), "s-1", hedge=False)
    await gateway.cancel_order(BTC, "1")
    await gateway.close()

    assert gateway.calls == 10
    assert gateway.account == "acc-1"
    assert markets[BTC].price_tick == d("0.1") and set(markets) == set(exchange.markets)


async def test_injected_faults_hit_the_next_calls_in_order(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.inject(Fault.TIMEOUT, "unavailable", "rate_limit", "auth")

    for expected in (TransientExchangeError, TransientExchangeError, TransientExchangeError):
        with pytest.raises(expected):
            await gateway.fetch_open_orders()
    with pytest.raises(PermanentExchangeError) as auth:
        await gateway.fetch_positions()
    assert not isinstance(auth.value, OrderRejectedError)
    assert len(exchange.faults) == 0
    assert await gateway.fetch_open_orders() == []
    assert gateway.calls == 5


async def test_a_timed_out_order_was_never_placed(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.inject("timeout")
    with pytest.raises(TransientExchangeError, match="timed out"):
        await gateway.place_entry(BTC, Side.LONG, d("0.1"), None, "e-1", hedge=False)
    assert await gateway.fetch_order(BTC, client_order_id="e-1") is None
    assert exchange.positions() == []


async def test_a_lost_response_still_placed_the_order(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.inject(Fault.TIMEOUT_AFTER_SUBMIT)
    with pytest.raises(TransientExchangeError, match="timed out"):
        await gateway.place_entry(BTC, Side.LONG, d("0.1"), None, "e-2", hedge=False)

    placed = await gateway.fetch_order(BTC, client_order_id="e-2")
    assert placed is not None and placed.status is OrderStatus.CLOSED
    assert [(p.side, p.size) for p in exchange.positions()] == [(Side.LONG, d("0.1"))]


async def test_markets_load_is_retried_after_a_failed_first_request(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.inject("unavailable")
    with pytest.raises(TransientExchangeError):
        await gateway.markets()
    assert BTC in await gateway.markets()
    await gateway.markets()
    assert gateway.calls == 2


async def test_empty_positions_is_a_silent_empty_snapshot(
        exchange: PaperExchange, gateway: PaperGateway, clock: HandClock) -> None:
    exchange.manual_order(BTC, BUY, d("0.1"))
    exchange.inject(Fault.EMPTY_POSITIONS, Fault.TIMEOUT)
    clock.advance(5)

    assert await gateway.fetch_open_orders() == []  # not consumed by other calls...
    empty = await gateway.fetch_positions()
    assert (empty.positions, empty.mode, empty.fetched_at) == ((), PositionMode.ONE_WAY, clock.now)
    with pytest.raises(TransientExchangeError):  # ...and it held the fault behind it
        await gateway.fetch_open_orders()
    full = await gateway.fetch_positions()
    assert [(p.symbol, p.size) for p in full.positions] == [(BTC, d("0.1"))]


def test_unknown_faults_are_refused(exchange: PaperExchange) -> None:
    with pytest.raises(ValueError):
        exchange.inject("gremlins")


async def test_fetch_positions_is_one_snapshot_stamped_by_the_clock(
        exchange: PaperExchange, gateway: PaperGateway, clock: HandClock) -> None:
    exchange.manual_order(BTC, BUY, d("0.1"))
    exchange.manual_order(ETH, SELL, d("2"))
    exchange.set_mark(ETH, d("2990"))
    clock.advance(30)

    snapshot = await gateway.fetch_positions()
    assert snapshot.fetched_at == clock.now and snapshot.mode is PositionMode.ONE_WAY
    by_symbol = {p.symbol: p for p in snapshot.positions}
    assert (by_symbol[ETH].side, by_symbol[ETH].mark_price, by_symbol[ETH].unrealized_pnl) == (
        Side.SHORT, d("2990"), d("20"))
    assert by_symbol[BTC].unrealized_pnl == 0


async def test_order_rejection_hits_gateway_placements_only(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.set_order_rejection("-2019 Margin is insufficient", count=1)
    with pytest.raises(OrderRejectedError, match="-2019"):
        await gateway.place_entry(BTC, Side.LONG, d("0.1"), None, "e-1", hedge=False)
    await gateway.place_entry(BTC, Side.LONG, d("0.1"), None, "e-1", hedge=False)

    exchange.set_order_rejection("-2019 Margin is insufficient")
    exchange.manual_order(BTC, BUY, d("0.1"))
    for _ in range(2):
        with pytest.raises(OrderRejectedError):
            await gateway.place_stop_loss(BTC, Side.LONG, d("0.2"), d("45000"), "s", hedge=False)
    exchange.set_order_rejection(None)
    await gateway.place_reduce(BTC, Side.LONG, d("0.2"), "r-1", hedge=False)
    assert exchange.positions() == []


async def test_fetch_fills_returns_fills_since_oldest_first_for_one_symbol(
        exchange: PaperExchange, gateway: PaperGateway, clock: HandClock) -> None:
    exchange.manual_order(BTC, BUY, d("0.1"))
    since = clock.advance(10)
    second = exchange.manual_order(BTC, BUY, d("0.1"))
    exchange.manual_order(ETH, BUY, d("1"))
    clock.advance(10)
    third = exchange.manual_order(BTC, SELL, d("0.05"))

    fills = await gateway.fetch_fills(BTC, since)
    assert [f.order_id for f in fills] == [second.id, third.id]
    assert all(f.timestamp >= since and f.symbol == BTC for f in fills)
    assert await gateway.fetch_fills(BTC, clock.advance(1)) == []


async def test_place_entry_market_and_limit(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    market = await gateway.place_entry(ETH, Side.SHORT, d("1"), None, "e-m", hedge=False)
    limit = await gateway.place_entry(BTC, Side.LONG, d("0.1"), d("48000"), "e-l", hedge=False)

    assert (market.type, market.side, market.status) == ("market", SELL, OrderStatus.CLOSED)
    assert (limit.type, limit.side, limit.status, limit.price) == (
        "limit", BUY, OrderStatus.OPEN, d("48000"))
    assert not market.reduce_only and not limit.reduce_only
    assert await gateway.fetch_open_orders() == [limit]


async def test_place_reduce_is_a_clipped_reduce_only_market_order(
        exchange: PaperExchange, gateway: PaperGateway) -> None:
    exchange.manual_order(ETH, SELL, d("1"))
    order = await gateway.place_reduce(ETH, Side.SHORT, d("3"), "r-2", hedge=False)
    assert (order.side, order.reduce_only, order.amount, order.status) == (
        BUY, True, d("1"), OrderStatus.CLOSED)
    assert exchange.positions() == []
    with pytest.raises(OrderRejectedError, match="-2022"):
        await gateway.place_reduce(ETH, Side.SHORT, d("1"), "r-3", hedge=False)


async def test_hedge_gateway_orders_carry_the_position_side(
        hedge_exchange: PaperExchange) -> None:
    gateway = PaperGateway(hedge_exchange)
    entry = await gateway.place_entry(BTC, Side.SHORT, d("0.1"), None, "e-h", hedge=True)
    await gateway.place_entry(BTC, Side.LONG, d("0.3"), None, "e-h2", hedge=True)
    close = await gateway.place_reduce(BTC, Side.SHORT, d("0.1"), "r-h", hedge=True)

    assert (entry.side, entry.position_side, close.side, close.position_side) == (
        SELL, Side.SHORT, BUY, Side.SHORT)
    snapshot = await gateway.fetch_positions()
    assert snapshot.mode is PositionMode.HEDGE
    assert [(p.side, p.size) for p in snapshot.positions] == [(Side.LONG, d("0.3"))]
    with pytest.raises(OrderRejectedError, match="-4061"):
        await gateway.place_entry(BTC, Side.LONG, d("0.1"), None, "e-1w", hedge=False)


async def test_duplicate_client_id_through_the_gateway(gateway: PaperGateway) -> None:
    await gateway.place_entry(BTC, Side.LONG, d("0.1"), d("45000"), "dup", hedge=False)
    with pytest.raises(OrderRejectedError, match="-4015"):
        await gateway.place_entry(BTC, Side.LONG, d("0.1"), d("45000"), "dup", hedge=False)
    assert len(await gateway.fetch_open_orders()) == 1


async def test_cancel_order_cancels_a_resting_entry(gateway: PaperGateway) -> None:
    order = await gateway.place_entry(BTC, Side.LONG, d("0.1"), d("45000"), "e-c", hedge=False)
    await gateway.cancel_order(ETH, order.id)  # wrong symbol: unknown there
    assert await gateway.fetch_open_orders() == [order]
    await gateway.cancel_order(BTC, order.id)
    canceled = await gateway.fetch_order(BTC, order_id=order.id)
    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    assert await gateway.fetch_open_orders() == []
