"""Item 2: a stop that fires for only part of the size is recognised from its own state, and
the remainder is protected again at the same price."""

from __future__ import annotations

from positionbot.tracker.core.models import OrderSide, Side
from tests.support.money import BTC, D, Money, ThinBookExchange


async def test_a_stop_that_fired_for_part_protects_the_remainder_again(money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    assert (await money.commands.set_stop_loss(trade.id, D("45000"))).placed
    money.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))  # grown by hand to 0.020...
    money.venue.set_mark(BTC, D("44000"))  # ...and the stop for 0.010 fires before a cycle
    money.venue.set_mark(BTC, D("46000"))  # the mark comes back above the stop

    await money.cycle()

    [after] = money.trades()
    assert after.id == trade.id and after.size == D("0.010")
    stops = money.venue.open_stop_orders()
    assert [(o.trigger_price, o.amount) for o in stops] == [(D("45000"), D("0.010"))]
    assert after.stop_loss_order_id == stops[0].id and after.stop_loss_price == D("45000")
    kinds = await money.kinds()
    assert "stop_loss_removed" not in kinds  # not "removed by hand"
    assert kinds[-2:] == ["stop_loss_cleared", "stop_loss_placed"]


async def test_when_re_protecting_fails_the_trader_is_told_once_and_it_is_retried(
        money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    assert (await money.commands.set_stop_loss(trade.id, D("45000"))).placed
    money.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    money.venue.set_mark(BTC, D("44000"))  # fired; the mark stays below: a new stop at the
    # same price would fire at once, and the exchange refuses it

    await money.cycle()
    await money.cycle()

    [after] = money.trades()
    assert after.stop_loss_price == D("45000") and after.stop_loss_order_id is None
    assert money.venue.open_stop_orders() == []
    kinds = await money.kinds()
    assert kinds.count("stop_loss_failed") == 1 and "stop_loss_removed" not in kinds


async def test_a_stop_whose_order_fills_only_in_part_is_booked_and_the_rest_protected(
        money: Money) -> None:
    """The literal case: the stop (for the whole 0.010) fires but its market order meets only
    0.004 before the exchange expires the rest. The decrease is pushed with that fill's P&L,
    the 0.006 left is protected again at the same price, nothing says "removed by hand"."""
    assert isinstance(money.venue, ThinBookExchange)
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    assert (await money.commands.set_stop_loss(trade.id, D("45000"))).placed
    money.venue.stop_depth = D("0.004")
    money.venue.set_mark(BTC, D("44900"))
    [stop_fill] = money.venue.fills
    money.venue.set_mark(BTC, D("46000"))

    await money.cycle()

    [after] = money.trades()
    assert after.id == trade.id and after.size == D("0.006")
    pnl = (D("44900") - D("50000")) * D("0.004") - stop_fill.fee
    assert after.realized_pnl == pnl
    notices = await money.notices()
    assert [k for k, _ in notices][-3:] == ["decreased", "stop_loss_cleared", "stop_loss_placed"]
    decreased = notices[-3][1]
    assert D(str(decreased["realized_pnl"])) == pnl and decreased["estimated"] is False
    assert "stop_loss_removed" not in [k for k, _ in notices]
    stops = money.venue.open_stop_orders()
    assert [(o.trigger_price, o.amount) for o in stops] == [(D("45000"), D("0.006"))]
    assert after.stop_loss_order_id == stops[0].id
