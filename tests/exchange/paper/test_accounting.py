"""Position accounting: weighted entry, realized P&L, flips, hedge legs, fees, seeding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.tracker.core.models import Market, OrderSide, Side
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.paper import BTC, ETH, HandClock, d

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def only_position(exchange: PaperExchange, symbol: str) -> tuple[Side, Decimal, Decimal]:
    found = [(p.side, p.size, p.entry_price) for p in exchange.positions() if p.symbol == symbol]
    assert len(found) == 1, found
    return found[0]


def test_increases_average_the_entry_by_size(exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.1"))
    exchange.set_mark(BTC, d("60000"))
    exchange.manual_order(BTC, BUY, d("0.3"))

    assert only_position(exchange, BTC) == (Side.LONG, d("0.4"), d("57500"))
    [position] = exchange.positions()
    assert position.mark_price == d("60000")
    assert position.unrealized_pnl == d("1000")  # (60000 - 57500) * 0.4


def test_partial_close_of_a_long_realizes_pnl_and_keeps_the_entry(exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.4"))
    exchange.set_mark(BTC, d("50500"))
    exchange.manual_order(BTC, SELL, d("0.1"))

    assert exchange.realized_pnl(BTC) == d("50")  # (50500 - 50000) * 0.1
    assert only_position(exchange, BTC) == (Side.LONG, d("0.3"), d("50000"))


def test_partial_close_of_a_short_realizes_the_inverse(exchange: PaperExchange) -> None:
    exchange.manual_order(ETH, SELL, d("1"))
    exchange.set_mark(ETH, d("2900"))
    exchange.manual_order(ETH, BUY, d("0.4"))

    assert exchange.realized_pnl(ETH) == d("40")  # (3000 - 2900) * 0.4
    assert only_position(exchange, ETH) == (Side.SHORT, d("0.6"), d("3000"))
    [position] = exchange.positions()
    assert position.unrealized_pnl == d("60")  # (3000 - 2900) * 0.6


def test_full_close_leaves_no_position(exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    exchange.set_mark(BTC, d("49000"))
    exchange.manual_order(BTC, SELL, d("0.2"))

    assert exchange.positions() == []
    assert exchange.realized_pnl() == d("-200")


def test_one_way_order_larger_than_the_position_flips_through_zero(
        exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.2"))
    exchange.set_mark(BTC, d("51000"))
    order = exchange.manual_order(BTC, SELL, d("0.5"))

    assert exchange.realized_pnl(BTC) == d("200")  # the closed 0.2 at +1000
    assert only_position(exchange, BTC) == (Side.SHORT, d("0.3"), d("51000"))
    flip_fill = exchange.fills[-1]
    assert (flip_fill.order_id, flip_fill.amount, flip_fill.price) == (order.id, d("0.5"),
                                                                       d("51000"))


def test_hedge_mode_keeps_long_and_short_apart(hedge_exchange: PaperExchange) -> None:
    ex = hedge_exchange
    ex.manual_order(BTC, BUY, d("0.2"), position_side=Side.LONG)
    ex.manual_order(BTC, SELL, d("0.1"), position_side=Side.SHORT)
    ex.set_mark(BTC, d("52000"))
    close = ex.manual_order(BTC, SELL, d("0.5"), position_side=Side.LONG)

    assert close.amount == d("0.2")  # closing a hedge leg never flips it: clipped
    assert [(p.side, p.size, p.entry_price) for p in ex.positions()] == [
        (Side.SHORT, d("0.1"), d("50000"))]
    assert ex.realized_pnl(BTC) == d("400")
    assert ex.fills[-1].position_side is Side.LONG


def test_hedge_mode_requires_a_position_side_and_one_way_refuses_one(
        exchange: PaperExchange, hedge_exchange: PaperExchange) -> None:
    with pytest.raises(OrderRejectedError, match="-4061"):
        hedge_exchange.manual_order(BTC, BUY, d("0.1"))
    with pytest.raises(OrderRejectedError, match="-4061"):
        exchange.manual_order(BTC, BUY, d("0.1"), position_side=Side.LONG)
    assert exchange.positions() == [] and hedge_exchange.positions() == []


def test_hedge_close_of_an_empty_leg_is_rejected(hedge_exchange: PaperExchange) -> None:
    hedge_exchange.manual_order(BTC, BUY, d("0.2"), position_side=Side.LONG)
    with pytest.raises(OrderRejectedError, match="-2022"):
        hedge_exchange.manual_order(BTC, BUY, d("0.1"), position_side=Side.SHORT,
                                    reduce_only=True)
    with pytest.raises(OrderRejectedError, match="-2022"):
        hedge_exchange.manual_order(BTC, BUY, d("0.1"), position_side=Side.LONG,
                                    reduce_only=True)


def test_taker_and_maker_fees_are_rate_times_notional(exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.5"))  # taker at 50000
    limit = exchange.manual_order(BTC, BUY, d("0.2"), price=d("49000"))
    exchange.set_mark(BTC, d("48900"))  # maker at the limit price

    taker, maker = exchange.fills
    assert taker.fee == d("10")  # 0.5 * 50000 * 0.0004
    assert (maker.order_id, maker.price, maker.fee) == (limit.id, d("49000"), d("1.96"))
    assert exchange.fees_paid(BTC) == exchange.fees_paid() == d("11.96")
    assert exchange.fees_paid(ETH) == 0


def test_contract_size_scales_notional_fees_and_pnl(clock: HandClock) -> None:
    market = Market("X/USDT:USDT", "X", "USDT", "USDT", contract_size=d("10"),
                    amount_step=d("1"), price_tick=d("0.01"))
    ex = PaperExchange([market], clock=clock, marks={market.symbol: d("2.50")},
                       taker_fee_rate=d("0.001"))
    ex.manual_order(market.symbol, BUY, d("3"))
    ex.set_mark(market.symbol, d("2.75"))
    ex.manual_order(market.symbol, SELL, d("2"))

    assert [f.fee for f in ex.fills] == [d("0.075"), d("0.055")]  # 3*10*2.5*0.001, 2*10*2.75*0.001
    assert ex.realized_pnl() == d("5")  # (2.75 - 2.50) * 2 * 10
    [position] = ex.positions()
    assert (position.contract_size, position.unrealized_pnl, position.notional) == (
        d("10"), d("2.5"), d("27.5"))


def test_realized_pnl_is_the_sum_over_fills_per_symbol_and_in_total(
        exchange: PaperExchange) -> None:
    exchange.manual_order(BTC, BUY, d("0.3"))
    exchange.manual_order(ETH, SELL, d("2"))
    exchange.set_mark(BTC, d("50100"))
    exchange.set_mark(ETH, d("3050"))
    exchange.manual_order(BTC, SELL, d("0.1"))  # +10
    exchange.manual_order(ETH, BUY, d("0.5"))  # -25
    exchange.set_mark(BTC, d("49900"))
    exchange.manual_order(BTC, SELL, d("0.5"))  # closes 0.2 at -20, opens short 0.3

    assert exchange.realized_pnl(BTC) == d("-10")
    assert exchange.realized_pnl(ETH) == d("-25")
    assert exchange.realized_pnl() == d("-35")
    assert exchange.realized_pnl("DOGE/USDT:USDT") == 0


def test_open_position_seeds_without_a_fill_and_sets_a_missing_mark(clock: HandClock) -> None:
    ex = PaperExchange([Market("C/USDT:USDT", "C", "USDT", "USDT")], clock=clock)
    ex.open_position("C/USDT:USDT", Side.SHORT, d("4"), d("12.5"))

    assert ex.fills == [] and ex.mark("C/USDT:USDT") == d("12.5")
    assert only_position(ex, "C/USDT:USDT") == (Side.SHORT, d("4"), d("12.5"))
    ex.set_mark("C/USDT:USDT", d("10"))
    ex.manual_order("C/USDT:USDT", BUY, d("1"))
    assert ex.realized_pnl() == d("2.5")  # reduces against the seeded entry


def test_open_position_in_one_way_mode_replaces_the_other_side(exchange: PaperExchange) -> None:
    exchange.open_position(BTC, Side.LONG, d("1"), d("40000"))
    exchange.open_position(BTC, Side.SHORT, d("2"), d("41000"))
    assert only_position(exchange, BTC) == (Side.SHORT, d("2"), d("41000"))
    assert exchange.mark(BTC) == d("50000")  # an existing mark is kept
    exchange.open_position(BTC, Side.SHORT, d("0"), d("41000"))
    assert exchange.positions() == []


def test_mark_of_an_unpriced_symbol_is_an_error(clock: HandClock) -> None:
    ex = PaperExchange([Market("C/USDT:USDT", "C", "USDT", "USDT")], clock=clock)
    with pytest.raises(KeyError):
        ex.mark("C/USDT:USDT")
    with pytest.raises(OrderRejectedError, match="no mark price"):
        ex.manual_order("C/USDT:USDT", BUY, d("1"))

