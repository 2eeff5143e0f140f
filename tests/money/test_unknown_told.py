"""Item 3, "tell the trader": a stop the cycle places (not a command) whose create gets no
certain answer is pushed once as "not confirmed, checking on the next cycles", and once it is
resolved the trader hears that too. Real ccxt against the Binance-format server, whose create
answers 503/-1007 and executes LATE seconds later."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from positionbot.bot.render.notices import NoticeView, render_notice
from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.core.notices import decode
from tests.support.money import BTC, D, Money

LATE = 0.6
ALGO = "/fapi/v1/algoOrder"


async def _rendered_last(money: Money, kind: str) -> str:
    rows = await money.store.pending_notifications(money.clock() + timedelta(days=1),
                                                   limit=10_000)
    [row] = [r for r in rows if r.kind == kind][-1:]
    return render_notice(NoticeView(decode(row.kind, row.account, row.dedupe_key,
                                           row.fields))).text


async def test_an_unconfirmed_stop_placement_is_pushed_once_then_its_outcome(
        money: Money) -> None:
    preview = await money.commands.preview_entry("main", BTC, Side.LONG, D("0.010"), None,
                                                 D("45000"), D("50000"))
    await money.commands.open_entry(preview)  # filled at once; the cycle places its stop
    money.server.inject(Fault.executes_late(LATE, ALGO))

    await money.cycle(ok=False)
    await money.cycle(ok=False)  # still unconfirmed: not pushed again

    notices = await money.notices()
    failed = [f for k, f in notices if k == "stop_loss_failed"]
    assert len(failed) == 1 and failed[0]["unconfirmed"] is True
    assert "outcome unknown" in str(failed[0]["error"])
    assert "checking on the next cycles" in str(failed[0]["error"])
    text = await _rendered_last(money, "stop_loss_failed")
    assert "not confirmed" in text and "checks on the next syncs" in text

    await asyncio.sleep(LATE + 0.3)  # the exchange carried the create out after all
    await money.cycle()

    stops = money.venue.open_stop_orders()
    assert [(o.trigger_price, o.amount) for o in stops] == [(D("45000"), D("0.010"))]
    [trade] = money.trades()
    assert trade.stop_loss_order_id == stops[0].id and trade.stop_loss_note is None
    kinds = await money.kinds()
    assert kinds[-1] == "stop_loss_placed" and kinds.count("stop_loss_failed") == 1
    assert money.server.count(ALGO, "POST") >= 2  # asked again under the same client id...
    assert len(stops) == 1  # ...and never placed twice


async def test_an_unconfirmed_resize_is_followed_up_when_it_resolves(money: Money) -> None:
    money.venue.open_position(BTC, Side.LONG, D("0.010"), D("50000"))
    await money.cycle()
    [trade] = money.trades()
    assert (await money.commands.set_stop_loss(trade.id, D("45000"))).placed
    money.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))  # the stop must grow to 0.020
    money.server.inject(Fault.executes_late(LATE, ALGO))

    await money.cycle(ok=False)

    failed = [f for k, f in await money.notices() if k == "stop_loss_failed"]
    assert len(failed) == 1 and failed[0]["unconfirmed"] is True
    await asyncio.sleep(LATE + 0.3)
    await money.cycle()

    stops = money.venue.open_stop_orders()
    assert [(o.trigger_price, o.amount) for o in stops] == [(D("45000"), D("0.020"))]
    kinds = await money.kinds()
    assert kinds[-1] == "stop_loss_placed"  # the resize is confirmed: the trader is told
    assert kinds.count("stop_loss_failed") == 1
