"""Order semantics: filters, resting limits, partial fills, reduce-only, client ids, history."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.tracker.core.models import Market, OrderSide, OrderStatus, Side
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.paper import PaperExchange, default_markets, synthetic_markets
from tests.support.paper import BTC, ETH, START, HandClock, d

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_market_order_fills_at_the_mark_and_closes(exchange: PaperExchange, clock: HandClock) -> None:
    order = exchange.manual_order(BTC, BUY, d("0.01"))

    assert (order.type, order.status, order.filled, order.price) == ("market", OrderStatus.CLOSED,
                                                                      d("0.01"), None)
    assert order.timestamp == START and order.timestamp.tzinfo is not None
    [fill] = exchange.fills
    assert (fill.order_id, fill.side, fill.amount, fill.price, fill.timestamp) == (
        order.id, BUY, d("0.01"), d("50000"), START)


@pytest.mark.parametrize(("amount", "price", "code"), [
    (d("0.0105"), None, "-1111"),  # not a multiple of the 0.001 step
    (d("0"), None, "-1111"),
    (d("-0.01"), None, "-1111"),
    (d("0.01"), d("49000.05"), "-1111"),  # not a multiple of the 0.1 tick
    (d("0.001"), None, "-4164"),  # 50 USDT: below BTC's 100 USDT minimum notional
    (d("0.002"), d("49000"), "-4164"),
])
def test_orders_breaking_the_market_filters_are_rejected(
        exchange: PaperExchange, amount: Decimal, price: Decimal | None, code: str) -> None:
    with pytest.raises(OrderRejectedError, match=code):
        exchange.manual_order(BTC, BUY, amount, price=price)
    assert exchange.fills == [] and exchange.open_orders() == []


def test_amount_below_the_market_minimum_is_rejected(clock: HandClock) -> None:
    market = Market("Y/USDT:USDT", "Y", "USDT", "USDT", amount_step=d("0.1"), min_amount=d("1"))
    ex = PaperExchange([market], clock=clock, marks={market.symbol: d("3")})
    with pytest.raises(OrderRejectedError, match="-4003"):
        ex.manual_order(market.symbol, BUY, d("0.9"))


def test_unknown_symbol_is_rejected(exchange: PaperExchange) -> None:
    with pytest.raises(OrderRejectedError, match="-1121"):
        exchange.manual_order("NOPE/USDT:USDT", BUY, d("1"))


def test_a_reduce_only_close_may_be_below_the_minimum_notional(exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.01"))
    exchange.manual_order(BTC, SELL, d("0.001"), reduce_only=True)
    [position] = exchange.positions()
    assert position.size == d("0.009")


def test_buy_limit_rests_until_the_mark_falls_to_its_price(exchange: PaperExchange) -> None:
    order = exchange.manual_order(BTC, BUY, d("0.1"), price=d("49000"))
    assert order.status is OrderStatus.OPEN and exchange.open_orders() == [order]

    assert exchange.set_mark(BTC, d("49000.1")) == []
    [fill] = exchange.set_mark(BTC, d("48000"))

    assert (fill.order_id, fill.price, fill.amount) == (order.id, d("49000"), d("0.1"))
    filled = exchange.find_order(BTC, order_id=order.id)
    assert filled is not None and (filled.status, filled.filled) == (OrderStatus.CLOSED, d("0.1"))
    assert exchange.open_orders() == []


def test_sell_limit_fills_when_the_mark_reaches_its_price(exchange: PaperExchange) -> None:
    order = exchange.manual_order(ETH, SELL, d("1"), price=d("3100"))
    assert exchange.set_mark(ETH, d("3099.99")) == []
    [fill] = exchange.set_mark(ETH, d("3100"))
    assert (fill.order_id, fill.price, fill.fee) == (order.id, d("3100"), d("0.62"))
    [position] = exchange.positions()
    assert (position.side, position.entry_price) == (Side.SHORT, d("3100"))


def test_limit_through_the_mark_fills_at_once_as_a_taker(exchange: PaperExchange) -> None:
    order = exchange.manual_order(BTC, BUY, d("0.1"), price=d("51000"))
    [fill] = exchange.fills
    assert order.status is OrderStatus.CLOSED
    assert (fill.price, fill.fee) == (d("50000"), d("2"))  # 0.1 * 50000 * 0.0004


def test_partial_fill_stays_open_then_the_rest_fills_on_a_cross(exchange: PaperExchange) -> None:
    order = exchange.manual_order(BTC, BUY, d("0.3"), price=d("49000"))
    [first] = exchange.fill_order(order.id, d("0.1"))

    partial = exchange.find_order(BTC, order_id=order.id)
    assert partial is not None and (partial.status, partial.filled) == (OrderStatus.OPEN, d("0.1"))
    assert exchange.open_orders() == [partial]
    assert exchange.positions()[0].size == d("0.1")

    [rest] = exchange.set_mark(BTC, d("48500"))
    done = exchange.find_order(BTC, order_id=order.id)
    assert done is not None and (done.status, done.filled) == (OrderStatus.CLOSED, d("0.3"))
    assert (first.price, first.amount, rest.price, rest.amount) == (
        d("49000"), d("0.1"), d("49000"), d("0.2"))
    assert first.order_id == rest.order_id == order.id and first.id < rest.id


def test_fill_order_without_amount_fills_the_remainder(exchange: PaperExchange) -> None:
    order = exchange.manual_order(BTC, SELL, d("0.2"), price=d("55000"))
    exchange.fill_order(order.id, d("0.05"))
    [fill] = exchange.fill_order(order.id)
    assert fill.amount == d("0.15")
    done = exchange.find_order(BTC, order_id=order.id)
    assert done is not None and done.status is OrderStatus.CLOSED


def test_fill_order_refuses_what_it_cannot_fill(exchange: PaperExchange) -> None:
    limit = exchange.manual_order(BTC, BUY, d("0.2"), price=d("49000"))
    market = exchange.manual_order(BTC, BUY, d("0.01"))
    with pytest.raises(ValueError, match="outside"):
        exchange.fill_order(limit.id, d("0.3"))
    with pytest.raises(ValueError, match="multiple"):
        exchange.fill_order(limit.id, d("0.0005"))
    with pytest.raises(ValueError, match="not a resting limit"):
        exchange.fill_order(market.id)
    with pytest.raises(ValueError, match="not a resting limit"):
        exchange.fill_order("404")


def test_reduce_only_is_clipped_to_the_position_and_never_flips(exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    order = exchange.manual_order(BTC, SELL, d("0.5"), reduce_only=True)

    assert (order.amount, order.filled, order.status) == (d("0.2"), d("0.2"), OrderStatus.CLOSED)
    assert exchange.positions() == []


def test_reduce_only_without_a_position_to_reduce_is_rejected(exchange: PaperExchange) -> None:
    with pytest.raises(OrderRejectedError, match="-2022"):
        exchange.manual_order(BTC, SELL, d("0.1"), reduce_only=True)
    exchange.manual_order(BTC, BUY, d("0.1"))
    with pytest.raises(OrderRejectedError, match="-2022"):  # would increase the long
        exchange.manual_order(BTC, BUY, d("0.1"), reduce_only=True)
    with pytest.raises(OrderRejectedError, match="-2022"):
        exchange.manual_order(BTC, BUY, d("0.1"), price=d("45000"), reduce_only=True)
    assert exchange.positions()[0].size == d("0.1")


def test_resting_reduce_only_limit_expires_when_nothing_is_left_to_reduce(
        exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    take_profit = exchange.manual_order(BTC, SELL, d("0.2"), price=d("52000"), reduce_only=True)
    exchange.manual_order(BTC, SELL, d("0.2"))  # closed by hand first

    assert exchange.set_mark(BTC, d("52000")) == []
    expired = exchange.find_order(BTC, order_id=take_profit.id)
    assert expired is not None and (expired.status, expired.filled) == (OrderStatus.EXPIRED, d("0"))
    assert exchange.positions() == []


def test_resting_reduce_only_limit_fills_only_what_is_left(exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    take_profit = exchange.manual_order(BTC, SELL, d("0.2"), price=d("52000"), reduce_only=True)
    exchange.manual_order(BTC, SELL, d("0.1"))

    [fill] = exchange.set_mark(BTC, d("52500"))
    assert (fill.amount, fill.price) == (d("0.1"), d("52000"))
    done = exchange.find_order(BTC, order_id=take_profit.id)
    assert done is not None and (done.status, done.filled) == (OrderStatus.EXPIRED, d("0.1"))
    assert exchange.positions() == []


def test_duplicate_client_id_of_an_open_order_is_rejected(exchange: PaperExchange) -> None:
    first = exchange.place_order(BTC, BUY, d("0.1"), price=d("49000"), client_order_id="pb-1")
    with pytest.raises(OrderRejectedError, match="-4015"):
        exchange.place_order(BTC, BUY, d("0.1"), client_order_id="pb-1")
    with pytest.raises(OrderRejectedError, match="-4015"):
        exchange.place_stop(BTC, SELL, d("0.1"), d("40000"), client_order_id="pb-1")
    assert exchange.open_orders() == [first] and exchange.fills == []


def test_client_id_is_free_again_once_its_order_is_done(exchange: PaperExchange) -> None:
    first = exchange.place_order(BTC, BUY, d("0.1"), price=d("49000"), client_order_id="pb-2")
    exchange.manual_cancel(first.id)
    second = exchange.place_order(BTC, BUY, d("0.1"), client_order_id="pb-2")

    found = exchange.find_order(BTC, client_order_id="pb-2")
    assert found is not None and found.id == second.id != first.id
    assert found.client_order_id == "pb-2" and found.status is OrderStatus.CLOSED


def test_find_order_needs_the_right_symbol_and_returns_none_for_unknown_ids(
        exchange: PaperExchange) -> None:
    order = exchange.place_order(BTC, BUY, d("0.1"), client_order_id="pb-3")
    assert exchange.find_order(ETH, order_id=order.id) is None
    assert exchange.find_order(BTC, order_id="123") is None
    assert exchange.find_order(BTC, client_order_id="nobody") is None
    with pytest.raises(ValueError):
        exchange.find_order(BTC)


def test_cancel_of_a_gone_order_is_a_no_op_and_manual_cancel_cancels(
        exchange: PaperExchange) -> None:
    filled = exchange.manual_order(BTC, BUY, d("0.1"))
    resting = exchange.manual_order(BTC, BUY, d("0.1"), price=d("40000"))

    exchange.cancel_order(BTC, filled.id)
    exchange.cancel_order(BTC, "does-not-exist")
    exchange.manual_cancel(resting.id)
    exchange.manual_cancel(resting.id)

    assert exchange.find_order(BTC, order_id=filled.id) == filled
    canceled = exchange.find_order(BTC, order_id=resting.id)
    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    assert exchange.open_orders() == []
    assert exchange.set_mark(BTC, d("39000")) == []
    with pytest.raises(KeyError):
        exchange.manual_cancel("does-not-exist")


def test_order_and_fill_ids_are_unique_and_increasing(exchange: PaperExchange) -> None:
    orders = [exchange.manual_order(BTC, side, d("0.01")) for side in (BUY, SELL, BUY, BUY)]
    fill_ids = [fill.id for fill in exchange.fills]
    order_ids = [order.id for order in orders]
    for ids in (fill_ids, order_ids):
        assert len(set(ids)) == len(ids)
        assert ids == sorted(ids) == sorted(ids, key=int)


def test_fill_history_is_bounded_but_totals_cover_every_fill(clock: HandClock) -> None:
    ex = PaperExchange(default_markets(), clock=clock, marks={BTC: d("50000")}, max_fills=3)
    for i in range(5):
        clock.advance(1)
        ex.set_mark(BTC, d("50000") + i)
        ex.manual_order(BTC, BUY if i % 2 == 0 else SELL, d("0.01"))

    assert [f.price for f in ex.fills] == [d("50002"), d("50003"), d("50004")]
    assert [f.price for f in ex.fills_since(BTC, START)] == [d("50002"), d("50003"), d("50004")]
    assert ex.realized_pnl() == d("0.02")  # +0.01 and +0.01 from the two sells
    assert ex.fees_paid() == sum((d("0.01") * (d("50000") + i) * d("0.0004") for i in range(5)),
                                 d("0"))


def test_order_history_is_bounded_but_open_orders_are_kept(clock: HandClock) -> None:
    ex = PaperExchange(default_markets(), clock=clock, marks={BTC: d("50000")}, max_orders=2)
    resting = ex.manual_order(BTC, BUY, d("0.01"), price=d("40000"))
    done = [ex.place_order(BTC, BUY, d("0.01"), client_order_id=f"c{i}") for i in range(3)]

    assert ex.find_order(BTC, order_id=done[0].id) is None
    assert ex.find_order(BTC, client_order_id="c0") is None
    assert [ex.find_order(BTC, order_id=o.id) for o in done[1:]] == done[1:]
    assert ex.open_orders() == [resting]


def test_synthetic_markets_support_ten_thousand_seeded_positions(clock: HandClock) -> None:
    markets = synthetic_markets(10_000)
    ex = PaperExchange(markets, clock=clock)
    for i, market in enumerate(markets):
        ex.open_position(market.symbol, Side.LONG if i % 2 else Side.SHORT, d("1.5"), d("20"))

    first = ex.snapshot()
    assert len(first.positions) == 10_000 and len({p.symbol for p in first.positions}) == 10_000
    assert ex.snapshot().positions is first.positions  # unchanged state: no rebuild
    ex.set_mark("C7/USDT:USDT", d("21"))
    changed = {p.symbol: p for p in ex.snapshot().positions}["C7/USDT:USDT"]
    assert changed.unrealized_pnl == d("1.5")


def test_default_markets_carry_binance_filters() -> None:
    markets = {m.symbol: m for m in default_markets()}
    assert set(markets) == {BTC, ETH, "SOL/USDT:USDT", "DOGE/USDT:USDT"}
    assert (markets[BTC].amount_step, markets[BTC].price_tick) == (d("0.001"), d("0.1"))
    assert (markets["DOGE/USDT:USDT"].amount_step, markets["DOGE/USDT:USDT"].price_tick) == (
        d("1"), d("0.00001"))
    assert all(m.settle == "USDT" and m.contract_size == 1 for m in markets.values())
