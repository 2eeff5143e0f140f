"""Low item: a stop the exchange accepted during a /sl whose outcome was lost (a crash) is
cancelled at the next reconciliation, and the trader is told, not only the log."""

from __future__ import annotations

from positionbot.tracker.core.models import OrderSide, Side
from tests.support.money import BTC, D, Money


async def test_a_leftover_stop_cancelled_at_restart_is_pushed(money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    lost = money.venue.place_stop(BTC, OrderSide.SELL, D("0.010"), D("45000"),
                                  client_order_id=f"pb-{trade.id}-sl-0123456789")
    money.tracker.reconcile_stops("main")  # what a start after an unclean stop does

    await money.cycle()

    assert money.venue.open_stop_orders() == []
    [(_kind, fields)] = [n for n in await money.notices() if n[0] == "stop_loss_cleared"]
    assert lost.id in str(fields["reason"]) and fields["trade_id"] == trade.id
