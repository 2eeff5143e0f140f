"""Item 15: /positions says the exchange is not answering as soon as the current fetch fails,
while the cycle is still retrying."""

from __future__ import annotations

import asyncio

from positionbot.bot.render.listing import AccountView, render_positions
from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import Side
from tests.support.money import ACCOUNT, BTC, D, Money


def listing(money: Money) -> str:
    book = money.tracker.book
    trades = book.active_trades(ACCOUNT)
    view = AccountView(ACCOUNT, book.sync_state(ACCOUNT), trades,
                       failing_since=book.failing_since(ACCOUNT))
    return render_positions([view], money.clock())


async def test_positions_warn_while_the_cycle_is_still_retrying(money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    assert "not answering" not in listing(money)
    money.server.inject(Fault.server_error("/positionRisk", 503),
                        Fault.slow(1.0, "/positionRisk"))  # the retry answers, but late

    cycle = asyncio.create_task(money.tracker.run_cycle(ACCOUNT))
    for _ in range(500):  # the first attempt fails within milliseconds
        if money.tracker.book.failing_since(ACCOUNT) is not None or cycle.done():
            break
        await asyncio.sleep(0.01)

    assert not cycle.done()  # still inside the same cycle
    assert "The exchange is not answering" in listing(money)
    assert (await cycle).ok
    assert money.tracker.book.failing_since(ACCOUNT) is None
    assert "not answering" not in listing(money)
