from decimal import Decimal

from positionbot.tracker.core.models import Order, OrderSide, OrderStatus, Side
from positionbot.tracker.core.stoploss import (
    StopActionKind,
    closed_by_stop,
    is_crossed,
    percent_stop_price,
    round_stop_price,
    stop_loss_actions,
)
from tests.core.factories import trade

D = Decimal


def stop(order_id: str = "s1") -> Order:
    return Order(order_id, "BTC/USDT:USDT", OrderSide.SELL, "stop_market", OrderStatus.OPEN, D("1"),
                 trigger_price=D("90"), reduce_only=True, is_stop=True)


def kinds(actions: list) -> list[tuple[StopActionKind, int]]:  # type: ignore[type-arg]
    return [(a.kind, a.trade.id) for a in actions]


def test_pending_stop_on_open_trade_is_placed() -> None:
    t = trade(stop_loss_price=D("90"))
    assert kinds(stop_loss_actions([t], [], {}, {1: D("100")})) == [(StopActionKind.PLACE, 1)]


def test_pending_stop_is_placed_even_without_a_mark() -> None:
    t = trade(stop_loss_price=D("90"))
    assert kinds(stop_loss_actions([t], [], {}, {})) == [(StopActionKind.PLACE, 1)]


def test_crossed_price_is_not_placed() -> None:
    long_t = trade(1, stop_loss_price=D("101"))
    short_t = trade(2, side=Side.SHORT, stop_loss_price=D("99"))
    actions = stop_loss_actions([long_t, short_t], [], {}, {1: D("100"), 2: D("100")})
    assert kinds(actions) == [(StopActionKind.CROSSED, 1), (StopActionKind.CROSSED, 2)]


def test_size_change_replaces_the_stop() -> None:
    t = trade(size="2", stop_loss_price=D("90"), stop_loss_order_id="s1", stop_loss_size=D("1"))
    assert kinds(stop_loss_actions([t], [], {"s1": stop()}, {})) == [(StopActionKind.REPLACE, 1)]


def test_matching_live_stop_needs_nothing() -> None:
    t = trade(stop_loss_price=D("90"), stop_loss_order_id="s1", stop_loss_size=D("1"))
    assert stop_loss_actions([t], [], {"s1": stop()}, {}) == []


def test_trade_without_stop_needs_nothing() -> None:
    assert stop_loss_actions([trade()], [], {}, {}) == []


def test_vanished_stop_with_position_remaining_was_removed_by_hand() -> None:
    t = trade(stop_loss_price=D("90"), stop_loss_order_id="s1", stop_loss_size=D("1"))
    assert kinds(stop_loss_actions([t], [], {}, {})) == [(StopActionKind.REMOVED, 1)]


def test_closed_trade_leftover_stop_is_cancelled_and_pending_cleared() -> None:
    live = trade(1, stop_loss_price=D("90"), stop_loss_order_id="s1", stop_loss_size=D("1"))
    pend = trade(2, stop_loss_price=D("90"))
    fired = trade(3, stop_loss_price=D("90"), stop_loss_order_id="gone")
    actions = stop_loss_actions([], [live, pend, fired], {"s1": stop()}, {})
    assert kinds(actions) == [(StopActionKind.CANCEL, 1), (StopActionKind.CLEAR, 2)]


def test_closed_by_stop_when_its_order_left_the_book() -> None:
    t = trade(stop_loss_price=D("90"), stop_loss_order_id="s1")
    assert closed_by_stop(t, {})
    assert not closed_by_stop(t, {"s1": stop()})
    assert not closed_by_stop(trade(), {})


def test_is_crossed_by_side() -> None:
    assert is_crossed(Side.LONG, D("100"), D("100"))
    assert not is_crossed(Side.LONG, D("99.9"), D("100"))
    assert is_crossed(Side.SHORT, D("100"), D("100"))
    assert not is_crossed(Side.SHORT, D("100.1"), D("100"))


def test_rounding_moves_the_stop_away_from_the_mark() -> None:
    assert round_stop_price(Side.LONG, D("58000.37"), D("0.1")) == D("58000.3")
    assert round_stop_price(Side.SHORT, D("58000.31"), D("0.1")) == D("58000.4")
    assert round_stop_price(Side.LONG, D("58000.3"), D("0.1")) == D("58000.3")


def test_percent_stop_price_is_on_the_losing_side() -> None:
    assert percent_stop_price(Side.LONG, D("100"), D("2")) == D("98")
    assert percent_stop_price(Side.SHORT, D("100"), D("-2")) == D("102")
