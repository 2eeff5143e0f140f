"""Item 8: a position row without a usable entry price is a glitch, never a close."""

from __future__ import annotations

from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import Side
from tests.support.exchange import FAST_RETRY
from tests.support.money import BTC, D, Money


async def test_a_position_served_with_entry_zero_is_not_closed_and_keeps_its_stop(
        money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    assert (await money.commands.set_stop_loss(trade.id, D("45000"))).placed
    stop_id = money.venue.open_stop_orders()[0].id
    before = await money.kinds()
    # Every attempt of the cycle (and of its verification fetch) sees the glitch.
    money.server.inject(*[Fault.entry_price_zero("BTCUSDT")] * (2 * FAST_RETRY.attempts))

    report = await money.cycle(ok=False)

    assert not report.ok and "entry price" in " ".join(report.errors)
    [still] = money.trades()
    assert (still.id, still.size, still.stop_loss_order_id) == (trade.id, D("0.010"), stop_id)
    assert [o.id for o in money.venue.open_stop_orders()] == [stop_id]
    assert await money.kinds() == before  # no close pushed, no stop cancelled
    money.server.faults.clear()
    await money.cycle()
    assert [t.id for t in money.trades()] == [trade.id]
    assert await money.kinds() == before  # not re-adopted as a new manual trade either


async def test_one_glitched_answer_closes_nothing_and_the_next_cycle_is_clean(
        money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    before = await money.kinds()
    money.server.inject(Fault.entry_price_zero("BTCUSDT"))

    await money.cycle(ok=False)  # retried within the cycle, or the cycle fails: either way...
    await money.cycle()

    assert [t.size for t in money.trades()] == [D("0.010")]
    assert await money.kinds() == before  # ...nothing was closed or re-opened
