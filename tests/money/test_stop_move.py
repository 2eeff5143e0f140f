"""Item 1: moving a stop when the old stop's cancel fails never leaves two stops behind."""

from __future__ import annotations

from decimal import Decimal

from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import Side
from tests.support.exchange import FAST_RETRY
from tests.support.money import BTC, D, Money

ALGO = "/fapi/v1/algoOrder"


def cancel_fails(times: int) -> list[Fault]:
    return [Fault.server_error(ALGO, 503, method="DELETE")] * times


async def stopped_position(money: Money) -> int:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    first = await money.commands.set_stop_loss(trade.id, D("45000"))
    assert first.placed
    return trade.id


def live_triggers(money: Money) -> list[Decimal]:
    return sorted(o.trigger_price for o in money.venue.open_stop_orders()
                  if o.trigger_price is not None)


async def test_old_stop_that_cannot_be_cancelled_stays_and_the_new_one_is_withdrawn(
        money: Money) -> None:
    trade_id = await stopped_position(money)
    money.server.inject(*cancel_fails(FAST_RETRY.attempts))  # the old one's cancel, every try

    result = await money.commands.set_stop_loss(trade_id, D("46000"))

    assert not result.placed and "not moved" in result.message
    assert live_triggers(money) == [D("45000")]
    [trade] = money.trades()
    assert trade.stop_loss_price == D("45000")
    assert trade.stop_loss_order_id == money.venue.open_stop_orders()[0].id
    await money.cycle()
    assert live_triggers(money) == [D("45000")]


async def test_when_neither_can_be_cancelled_the_next_cycle_cancels_the_old_one(
        money: Money) -> None:
    trade_id = await stopped_position(money)
    money.server.inject(*cancel_fails(2 * FAST_RETRY.attempts))  # the old one's, then the new's

    result = await money.commands.set_stop_loss(trade_id, D("46000"))

    assert not result.placed and "not confirmed" in result.message
    [trade] = money.trades()
    assert trade.stop_loss_price == D("46000")
    assert "stop_loss_failed" in await money.kinds()
    await money.cycle()  # the account's stops are reconciled: the unrecorded bot stop goes
    assert live_triggers(money) == [D("46000")]
    assert money.venue.open_stop_orders()[0].id == money.trades()[0].stop_loss_order_id


async def test_a_move_whose_cancel_succeeds_is_reported_placed(money: Money) -> None:
    trade_id = await stopped_position(money)

    result = await money.commands.set_stop_loss(trade_id, D("46000"))

    assert result.placed
    assert live_triggers(money) == [D("46000")]
