"""Item 2: a stop that fires for only part of the size is recognised from its own state, and
the remainder is protected again at the same price."""

from __future__ import annotations

from positionbot.tracker.core.models import OrderSide, Side
from tests.support.money import BTC, D, Money


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
