"""Through real ccxt.pro against the fake Binance user-data stream: every change pushed from the
stream, with exact figures, and no REST cycle needed for it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from positionbot.tracker.core.models import OrderSide, Side, TradeStatus
from positionbot.tracker.engine.commands import TradeCommands
from tests.support.stream import ACCOUNT, BTC, ETH, D, Live, eventually

BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def test_open_increase_partial_close_and_close_are_pushed_from_the_stream(
        live: Live) -> None:
    cycles = live.tracker.cycles_completed
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.set_mark(BTC, D("50100"))
    live.venue.manual_order(BTC, BUY, D("0.030"))
    await eventually(lambda: live.trades()[0].size == D("0.040"))
    assert live.trades()[0].avg_entry_price == D("50075")  # (50000*0.01 + 50100*0.03) / 0.04
    live.venue.set_mark(BTC, D("51000"))
    live.venue.manual_order(BTC, SELL, D("0.015"), reduce_only=True)
    await eventually(lambda: live.trades()[0].size == D("0.025"))
    live.venue.set_mark(BTC, D("49000"))
    live.venue.manual_order(BTC, SELL, D("0.025"), reduce_only=True)
    await eventually(lambda: live.trades() == [])
    assert live.tracker.cycles_completed == cycles  # the stream alone
    notices = await live.notices()
    assert [k for k, _ in notices] == ["opened", "increased", "decreased", "closed"]
    opened, increased, decreased, closed = (f for _, f in notices)
    assert (opened["size_after"], opened["price"]) == ("0.010", "50000")
    assert (increased["price"], increased["avg_entry"]) == ("50100", "50075")
    assert decreased["price"] == "51000" and decreased["estimated"] in ("0", False)
    # (51000 - 50075) * 0.015 less the taker fee 51000 * 0.015 * 0.0004
    assert D(decreased["realized_pnl"]) == D("13.875") - D("0.306")
    assert closed["price"] == "49000" and closed["estimated"] in ("0", False)
    (trade,) = await live.store.list_trades(ACCOUNT)
    assert trade.status is TradeStatus.CLOSED
    assert trade.realized_pnl == live.venue.realized_pnl() - live.venue.fees_paid()


async def test_a_flip_is_pushed_from_the_stream(live: Live) -> None:
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.set_mark(BTC, D("50500"))
    live.venue.manual_order(BTC, SELL, D("0.030"))
    await eventually(lambda: [t.side.value for t in live.trades()] == ["short"])
    (short,) = live.trades()
    assert (short.size, short.avg_entry_price) == (D("0.020"), D("50500"))
    assert await live.kinds() == ["opened", "flipped"]


async def test_stop_loss_hit_is_pushed_from_the_stream(live: Live) -> None:
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    result = await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    assert result.placed
    cycles = live.tracker.cycles_completed
    live.venue.set_mark(BTC, D("47990"))
    await eventually(lambda: live.trades() == [])
    assert live.tracker.cycles_completed == cycles
    (closed,) = await live.store.list_trades(ACCOUNT)
    assert closed.close_reason == "stop_loss"
    kinds = await live.kinds()
    assert kinds.count("stop_loss_hit") == 1 and "closed" not in kinds
    _, fields = next(n for n in await live.notices() if n[0] == "stop_loss_hit")
    assert fields["price"] == "47990"


async def test_hedge_legs_are_followed_and_the_zero_both_entry_closes_nothing(
        hedge_live: Live) -> None:
    live = hedge_live
    live.venue.manual_order(BTC, BUY, D("0.010"), position_side=Side.LONG)
    live.venue.manual_order(BTC, SELL, D("0.020"), position_side=Side.SHORT)
    await eventually(lambda: len(live.trades()) == 2)
    by_side = {t.side: t for t in live.trades()}
    assert (by_side[Side.LONG].size, by_side[Side.SHORT].size) == (D("0.010"), D("0.020"))
    live.venue.manual_order(BTC, SELL, D("0.010"), position_side=Side.LONG)
    await eventually(lambda: [t.side for t in live.trades()] == [Side.SHORT])
    assert live.trades()[0].size == D("0.020")
    assert await live.kinds() == ["opened", "opened", "closed"]


async def test_a_stop_cancelled_by_hand_is_reported_at_once(live: Live) -> None:
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    (stop,) = live.venue.open_stop_orders()
    cycles = live.tracker.cycles_completed
    live.venue.manual_cancel(stop.id)  # in the exchange app
    await eventually(lambda: live.tracker.cycles_completed == cycles + 1)  # at once
    assert live.trades()[0].stop_loss_order_id is None
    assert (await live.kinds())[-1] == "stop_loss_removed"


async def test_a_burst_is_applied_whole_without_rest(live: Live) -> None:
    """Several updates in one burst (ccxt.pro would split them across watch_* calls and hold
    the rest in its caches): every one is applied, and the stream made no REST snapshot."""
    cycles = live.tracker.cycles_completed
    positions_fetched = live.server.count("/positionRisk")
    live.venue.manual_order(BTC, BUY, D("0.010"))
    live.venue.manual_order(ETH, SELL, D("0.100"))
    live.venue.manual_order(BTC, BUY, D("0.002"))
    await eventually(lambda: {(t.symbol, t.size) for t in live.trades()}
                     == {(BTC, D("0.012")), (ETH, D("0.100"))})
    assert live.tracker.cycles_completed == cycles
    assert live.server.count("/positionRisk") == positions_fetched
    assert live.server.count("/userTrades") == 0  # priced from the stream's fills


async def raw_events(live: Live, act: Callable[[], object],
                     done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """What a second socket on the bot's listen key receives from ``act`` on, until ``done``."""
    url = f"{live.server.base_url}/ws/{live.server.stream.listen_key}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await eventually(lambda: live.server.stream.open_sockets == 2)
        act()
        events: list[dict[str, Any]] = []
        while not done(events):
            async with asyncio.timeout(5):
                events.append(json.loads((await ws.receive()).data))
    return events


def _trades(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["x"] == "TRADE"]


async def test_the_fakes_profit_and_balance_figures_are_the_venues_ledger(live: Live) -> None:
    """Each fill's ``rp`` is the gross P&L the venue booked for it, and each ACCOUNT_UPDATE's
    wallet (``wb``, ``cw``) is the venue's wallet after that fill, as on Binance (read off a
    second socket on the same listen key; positionbot itself prices from the fills)."""
    wallets = []

    def trade() -> None:
        live.venue.manual_order(BTC, BUY, D("0.010"))
        live.venue.set_mark(BTC, D("51000"))
        live.venue.manual_order(BTC, SELL, D("0.004"), reduce_only=True)
        wallets.append(live.venue.balance().wallet)
        live.venue.apply_funding(BTC, D("0.0001"))  # the next update's wallet includes it
        live.venue.set_mark(BTC, D("49000"))
        live.venue.manual_order(BTC, SELL, D("0.016"))  # closes 0.006 at a loss, opens 0.010
        wallets.append(live.venue.balance().wallet)

    events = await raw_events(live, trade, lambda es: len(_trades(es)) == 3)
    rows = {r.id: r.amount for r in live.venue.income.rows()}
    trades = _trades(events)
    assert [D(t["rp"]) for t in trades] == [D("0"), D("4"), D("-6")]  # (51000-50000)×0.004 ...
    for t in trades:
        assert D(t["rp"]) == rows.get(f"{t['t']}-P", D("0"))
        assert D(t["n"]) == -rows[f"{t['t']}-C"]
    updates = [e["a"] for e in events if e["e"] == "ACCOUNT_UPDATE"]
    (first,), (second,), (third,) = (u["B"] for u in updates)
    assert D(first["wb"]) == live.venue.initial_wallet - D(trades[0]["n"])
    assert (D(second["wb"]), D(third["wb"])) == tuple(wallets)
    assert all(b["wb"] == b["cw"] and b["bc"] == "0" for b in (first, second, third))
    (leg,) = updates[-1]["P"]
    (short,) = live.venue.positions()
    assert (D(leg["pa"]), D(leg["up"])) == (-short.size, short.unrealized_pnl)
    assert sum(D(t["rp"]) for t in trades) == live.venue.realized_pnl()


async def test_a_fired_stops_order_says_so_from_its_first_event(live: Live) -> None:
    """As on Binance: the Algo service's TRIGGERED (placed in the matching engine) comes
    first, and the order it placed carries the stop's client id and ``ot`` = STOP_MARKET from
    its NEW on; FINISHED follows the fill."""
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    (stop,) = live.venue.open_stop_orders()
    events = await raw_events(live, lambda: live.venue.set_mark(BTC, D("47990")),
                              lambda es: bool(es) and es[-1]["e"] == "ALGO_UPDATE"
                              and es[-1]["o"]["X"] == "FINISHED")
    assert [(e["e"], e.get("o", {}).get("X")) for e in events] == [
        ("ALGO_UPDATE", "TRIGGERED"), ("ORDER_TRADE_UPDATE", "NEW"), ("ACCOUNT_UPDATE", None),
        ("ORDER_TRADE_UPDATE", "FILLED"), ("ALGO_UPDATE", "FINISHED")]
    new, filled = (e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE")
    assert new["ot"] == filled["ot"] == "STOP_MARKET"
    assert new["c"] == filled["c"] == stop.client_order_id
    assert events[0]["o"]["ai"] == str(new["i"]) == str(filled["i"])
    await eventually(lambda: live.trades() == [])
    assert (await live.kinds()).count("stop_loss_hit") == 1
