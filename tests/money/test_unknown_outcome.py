"""Item 3: a create that times out but executes late is never sent again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import Side, TradeStatus
from positionbot.tracker.engine.commands import Refusal
from positionbot.tracker.engine.ports import OrderOutcomeUnknownError
from tests.support.money import BTC, D, Money

LATE = 0.6


async def test_gateway_never_resends_a_market_order_whose_outcome_is_unknown(money: Money) -> None:
    money.server.inject(Fault.executes_late(LATE))

    with pytest.raises(OrderOutcomeUnknownError, match="not sent again") as caught:
        await money.gateway.place_entry(BTC, Side.LONG, D("0.010"), None, "pb-9-entry-x", False)

    assert caught.value.client_order_id == "pb-9-entry-x"
    await asyncio.sleep(LATE + 0.3)
    assert [p.size for p in money.venue.positions()] == [D("0.010")]  # not 0.020
    assert money.server.count("/fapi/v1/order", "POST") == 1
    assert money.server.count("/fapi/v1/order", "GET") >= 2  # looked up with back-off


async def test_a_rate_limited_create_is_sent_again(money: Money) -> None:
    money.server.inject(Fault("/fapi/v1/order", "POST", status=429,
                              body={"code": -1003, "msg": "Too many requests."}))

    order = await money.gateway.place_entry(BTC, Side.LONG, D("0.010"), None, "pb-9-entry-y",
                                            False)

    assert order.client_order_id == "pb-9-entry-y"
    assert money.server.count("/fapi/v1/order", "POST") == 2
    assert [p.size for p in money.venue.positions()] == [D("0.010")]


async def test_late_entry_is_kept_pending_then_linked_by_the_next_cycles(money: Money) -> None:
    preview = await money.commands.preview_entry("main", BTC, Side.LONG, D("0.010"), None, None,
                                                 D("50000"))
    money.server.inject(Fault.executes_late(LATE))

    with pytest.raises(Refusal, match="not confirmed"):
        await money.commands.open_entry(preview)

    [pending] = money.trades()
    assert pending.status is TradeStatus.PENDING and pending.entry_order_id is None
    await money.cycle()  # not executed yet: the unknown entry is not given up
    assert [t.status for t in money.trades()] == [TradeStatus.PENDING]
    await asyncio.sleep(LATE + 0.3)
    await money.cycle()

    [trade] = money.trades()
    assert (trade.id, trade.status, trade.size) == (pending.id, TradeStatus.OPEN, D("0.010"))
    assert [p.size for p in money.venue.positions()] == [D("0.010")]
    assert money.server.count("/fapi/v1/order", "POST") == 1


async def test_unknown_entry_that_never_appears_is_cancelled_after_the_grace(money: Money) -> None:
    preview = await money.commands.preview_entry("main", BTC, Side.LONG, D("0.010"), None, None,
                                                 D("50000"))
    money.server.inject(Fault.server_error("/fapi/v1/order", 503, method="POST"))
    with pytest.raises(Refusal, match="not confirmed"):
        await money.commands.open_entry(preview)
    await money.cycle()
    assert [t.status for t in money.trades()] == [TradeStatus.PENDING]

    money.clock.shift += timedelta(minutes=3)
    await money.cycle()

    assert money.trades() == []
    kinds = await money.kinds()
    assert "pending_cancelled" in kinds
    assert money.server.count("/fapi/v1/order", "POST") == 1


async def test_late_stop_placement_is_adopted_not_doubled(money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    money.server.inject(Fault.executes_late(LATE, "/fapi/v1/algoOrder"))

    result = await money.commands.set_stop_loss(trade.id, D("45000"))

    assert not result.placed
    await asyncio.sleep(LATE + 0.3)
    await money.cycle()
    await money.cycle()
    stops = money.venue.open_stop_orders()
    assert len(stops) == 1
    [after] = money.trades()
    assert after.stop_loss_order_id == stops[0].id and after.stop_loss_price == D("45000")


async def test_a_close_executed_late_is_not_sent_again_and_the_next_cycles_record_it(
        money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    money.server.inject(Fault.executes_late(LATE))

    with pytest.raises(Refusal, match="not sent again"):
        await money.commands.close_position(trade.id, None, D("0.010"))

    await asyncio.sleep(LATE + 0.3)
    await money.cycle()
    assert money.venue.positions() == [] and money.trades() == []
    assert money.server.count("/fapi/v1/order", "POST") == 1
