"""Item 2, remainder: a stop that fires for part of the position while the trader adds by hand
within one polling interval leaves the size where it was. The stop's own state still says it
fired, so its fill is booked exactly (its P&L pushed with the decrease), the add is weighted
into the entry (pushed as an increase), and the remainder is protected again."""

from __future__ import annotations

from decimal import Decimal

from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import OrderSide, Side
from tests.support.money import BTC, D, Money


async def _grown_then_stopped(money: Money) -> int:
    """0.010 long at 50,000 with a stop at 45,000; by hand +0.010 at 52,000 (entry 51,000),
    then the stop (for 0.010) fires at 44,000: the size is 0.010 again before the next cycle."""
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    assert (await money.commands.set_stop_loss(trade.id, D("45000"))).placed
    money.venue.set_mark(BTC, D("52000"))
    money.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    money.venue.set_mark(BTC, D("44000"))
    money.venue.set_mark(BTC, D("46000"))
    [position] = money.venue.positions()
    assert position.size == D("0.010") and position.entry_price == D("51000")
    return trade.id


async def test_an_unchanged_size_still_books_the_stop_fill_and_the_add(money: Money) -> None:
    trade_id = await _grown_then_stopped(money)
    add, stop_fill = money.venue.fills[-2:]
    assert (add.side, stop_fill.side, stop_fill.price) == (OrderSide.BUY, OrderSide.SELL, D("44000"))

    await money.cycle()

    [after] = money.trades()
    assert after.id == trade_id and after.size == D("0.010")
    assert after.avg_entry_price == D("51000")  # the add weighted in, as the exchange says
    stop_pnl = (D("44000") - D("51000")) * D("0.010") - stop_fill.fee
    assert after.realized_pnl == stop_pnl - add.fee
    notices = await money.notices()
    kinds = [k for k, _ in notices]
    assert "stop_loss_removed" not in kinds
    assert kinds[-4:] == ["increased", "decreased", "stop_loss_cleared",
                          "stop_loss_placed"]
    increased, decreased = notices[-4][1], notices[-3][1]
    assert (D(str(increased["size_before"])), D(str(increased["size_after"]))) == (
        D("0.010"), D("0.020"))
    assert D(str(increased["price"])) == D("52000")
    assert (D(str(decreased["size_before"])), D(str(decreased["size_after"]))) == (
        D("0.020"), D("0.010"))
    assert D(str(decreased["price"])) == D("44000")
    assert D(str(decreased["realized_pnl"])) == stop_pnl  # exactly the stop fill's
    assert decreased["estimated"] is False
    stops = money.venue.open_stop_orders()
    assert [(o.trigger_price, o.amount) for o in stops] == [(D("45000"), D("0.010"))]
    assert after.stop_loss_order_id == stops[0].id


async def test_the_fills_are_booked_once(money: Money) -> None:
    """The next cycles book nothing more: the fills the stop left were consumed once."""
    await _grown_then_stopped(money)
    await money.cycle()
    [booked] = money.trades()
    before = len(await money.notices())

    money.venue.set_mark(BTC, D("47000"))
    await money.cycle()
    money.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await money.cycle()

    [after] = money.trades()
    assert after.realized_pnl == booked.realized_pnl - money.venue.fills[-1].fee
    kinds = [k for k, _ in (await money.notices())[before:]]
    assert kinds.count("increased") == 1 and "decreased" not in kinds
    assert after.size == D("0.020") and after.avg_entry_price == (
        (D("51000") + D("47000")) / 2)
    assert Decimal(0) < after.size


async def test_a_stop_that_closed_all_before_a_manual_reopen_closes_the_trade(
        money: Money) -> None:
    """The stop closed the whole position and the trader bought the same size back before the
    next cycle: the trade is closed by its stop (its P&L from the fill) and a new trade opens."""
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    assert (await money.commands.set_stop_loss(trade.id, D("45000"))).placed
    money.venue.set_mark(BTC, D("44000"))
    assert money.venue.positions() == []
    money.venue.set_mark(BTC, D("46000"))
    money.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    stop_fill, buy = money.venue.fills[-2:]

    await money.cycle()

    [new] = money.trades()
    assert new.id != trade.id and new.size == D("0.010") and new.avg_entry_price == D("46000")
    assert new.realized_pnl == -buy.fee and new.stop_loss_price is None
    closed = await money.store.get_trade(trade.id)
    assert closed is not None and closed.close_reason == "stop_loss"
    assert closed.realized_pnl == (D("44000") - D("50000")) * D("0.010") - stop_fill.fee
    assert money.venue.open_stop_orders() == []
    kinds = await money.kinds()
    assert kinds[-2:] == ["stop_loss_hit", "opened"] and "stop_loss_removed" not in kinds


async def test_without_the_fills_the_unchanged_size_is_estimated_from_the_stop(
        money: Money) -> None:
    """The fills cannot be read: the add is priced from the exchange's new entry and the
    stop's fill at its trigger price, both marked as estimates, and the remainder protected."""
    await _grown_then_stopped(money)
    money.server.inject(Fault.rewrite(lambda _rows: [], "/userTrades"))

    await money.cycle()

    [after] = money.trades()
    assert after.size == D("0.010") and after.avg_entry_price == D("51000")
    assert after.realized_pnl == (D("45000") - D("51000")) * D("0.010")
    notices = await money.notices()
    assert [k for k, _ in notices][-4:] == ["increased", "decreased", "stop_loss_cleared",
                                            "stop_loss_placed"]
    increased, decreased = notices[-4][1], notices[-3][1]
    assert D(str(increased["price"])) == D("52000")
    assert D(str(decreased["price"])) == D("45000") and decreased["estimated"] is True
    assert [(o.trigger_price, o.amount) for o in money.venue.open_stop_orders()] == [
        (D("45000"), D("0.010"))]
