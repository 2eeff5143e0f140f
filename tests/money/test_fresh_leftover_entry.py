"""Item 4, the rest of "orders carrying positionbot's client-id prefix": on a record started
fresh, a resting bot entry order that no trade records is cancelled and the trader is told,
instead of filling later into a position the bot never meant to hold without its stop."""

from __future__ import annotations

from pathlib import Path

from positionbot.fakes.binance_server import BinanceServer
from positionbot.tracker.core.models import OrderSide, OrderStatus
from tests.support.money import BTC, D, ShiftedClock, open_money


async def test_a_fresh_record_cancels_the_bots_resting_entry_and_says_so(
        server: BinanceServer, tmp_path: Path) -> None:
    venue = server.venue
    bots = venue.place_order(BTC, OrderSide.BUY, D("0.010"), price=D("45000"),
                             client_order_id="pb-7-entry-0123456789")
    manual = venue.place_order(BTC, OrderSide.BUY, D("0.010"), price=D("44000"))
    money = await open_money(server, tmp_path / "bot.db", ShiftedClock())
    try:
        await money.cycle()
        await money.cycle()

        assert [o.id for o in venue.open_orders()] == [manual.id]  # the trader's own stays
        found = venue.find_order(BTC, order_id=bots.id)
        assert found is not None and found.status is OrderStatus.CANCELED
        [fields] = [f for k, f in await money.notices() if k == "pending_cancelled"]
        assert fields["trade_id"] == 7 and fields["side"] == "long"
        assert bots.id in str(fields["reason"]) and "cancelled" in str(fields["reason"])
    finally:
        await money.store.close()
        await money.gateway.close()
