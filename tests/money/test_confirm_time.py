"""Items 6 and 7: what a confirmation sends is checked again at confirm time, under the lock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from positionbot.tracker.core.models import OrderSide, Side, Source, Trade, TradeStatus
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.commands import Refusal
from tests.support.money import BTC, D, Money

MARK = D("50000")


async def test_close_confirmed_after_a_manual_add_sends_nothing_and_asks_again(
        money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), MARK)
    await money.cycle()
    [trade] = money.trades()
    previewed = trade.size  # the preview showed 0.010
    money.venue.manual_order(BTC, OrderSide.BUY, D("0.040"))  # then the trader adds by hand
    await money.cycle()

    with pytest.raises(Refusal, match=r"now 0\.050, not the 0\.010 the preview showed"):
        await money.commands.close_position(trade.id, None, previewed)

    assert [p.size for p in money.venue.positions()] == [D("0.050")]
    assert money.server.count("/fapi/v1/order", "POST") == 0


async def test_two_partial_closes_of_the_same_size_get_their_own_client_ids(money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), MARK)
    await money.cycle()
    [trade] = money.trades()

    first = await money.commands.close_position(trade.id, D("0.002"), D("0.010"))
    second = await money.commands.close_position(trade.id, D("0.002"), D("0.010"))

    assert first.client_order_id != second.client_order_id
    assert first.id != second.id
    assert [p.size for p in money.venue.positions()] == [D("0.006")]


async def test_second_of_two_confirmed_entry_previews_is_refused(money: Money) -> None:
    previews = [await money.commands.preview_entry("main", BTC, Side.LONG, D("0.010"), None,
                                                   None, MARK) for _ in range(2)]
    await money.commands.open_entry(previews[0])

    with pytest.raises(Refusal, match="already a pending entry"):
        await money.commands.open_entry(previews[1])

    assert money.server.count("/fapi/v1/order", "POST") == 1
    await money.cycle()
    [trade] = money.trades()
    assert trade.status is TradeStatus.OPEN and trade.size == D("0.010")


async def test_pending_trade_whose_entry_filled_into_an_existing_position_is_resolved(
        money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), MARK)
    await money.cycle()
    [held] = money.trades()
    # A pending bot entry whose order filled into the position another trade holds (what two
    # confirmed previews used to leave behind).
    order = money.venue.place_order(BTC, OrderSide.BUY, D("0.010"), client_order_id="pb-77-x")
    ghost = Trade(money.store.new_trade_id(), "main", BTC, Side.LONG, TradeStatus.PENDING,
                  Source.BOT, entry_client_order_id="pb-77-x", entry_order_id=order.id,
                  created_at=money.clock() - timedelta(seconds=5))
    await money.store.commit(WriteBatch("main", trades=[ghost]))
    money.tracker.book.remember("main", [ghost])

    await money.cycle()

    assert [t.id for t in money.trades()] == [held.id]
    assert money.trades()[0].size == D("0.020")
    [(_kind, fields)] = [n for n in await money.notices() if n[0] == "pending_cancelled"]
    assert f"trade #{held.id}" in str(fields["reason"])
