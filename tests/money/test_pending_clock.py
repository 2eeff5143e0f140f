"""Item 11, engine side: a pending entry's timeout runs on a monotonic clock. Stepping the wall
clock (NTP, an operator) neither cancels an entry placed seconds earlier nor keeps an old one;
the wall clock only dates the records, and a restart still times out entries that are old."""

from __future__ import annotations

from datetime import timedelta

from positionbot.tracker.core.models import Side, TradeStatus
from tests.support.money import BTC, D, Money, open_money

TIMEOUT = timedelta(minutes=60)  # the fixture's pending_timeout


async def _resting_entry(money: Money) -> int:
    preview = await money.commands.preview_entry("main", BTC, Side.LONG, D("0.010"), D("45000"),
                                                 None, D("50000"))
    pending = await money.commands.open_entry(preview)
    assert pending.status is TradeStatus.PENDING and pending.entry_order_id is not None
    return pending.id


async def test_a_wall_clock_stepped_forward_does_not_cancel_a_fresh_entry(money: Money) -> None:
    trade_id = await _resting_entry(money)
    await money.cycle()

    money.clock.step = timedelta(hours=1, minutes=1)  # the wall clock jumps; no time passed
    await money.cycle()
    await money.cycle()

    assert [(t.id, t.status) for t in money.trades()] == [(trade_id, TradeStatus.PENDING)]
    assert [o.price for o in money.venue.open_orders()] == [D("45000")]
    assert "pending_cancelled" not in await money.kinds()

    money.clock.shift += TIMEOUT  # the real timeout passes
    await money.cycle()

    assert money.trades() == [] and money.venue.open_orders() == []
    [(_, fields)] = [n for n in await money.notices() if n[0] == "pending_cancelled"]
    assert fields["reason"] == "not filled within 60 min: entry order cancelled"


async def test_a_wall_clock_stepped_back_does_not_keep_an_entry_past_its_timeout(
        money: Money) -> None:
    await _resting_entry(money)
    await money.cycle()
    money.clock.step = -timedelta(hours=2)

    money.clock.shift += TIMEOUT
    await money.cycle()

    assert money.trades() == [] and money.venue.open_orders() == []


async def test_after_a_restart_an_entry_older_than_the_timeout_is_cancelled(money: Money) -> None:
    trade_id = await _resting_entry(money)
    await money.cycle()
    await money.store.close()
    money.clock.shift += TIMEOUT  # the bot was down for an hour

    again = await open_money(money.server, money.path, money.clock)
    try:
        assert [t.id for t in again.trades()] == [trade_id]
        await again.cycle()
        assert again.trades() == [] and again.venue.open_orders() == []
    finally:
        await again.store.close()
        await again.gateway.close()
