"""Through real ccxt.pro against the fake Bybit v5 private stream (``position``, ``order``,
``execution``) and the fake OKX v5 private streams (``positions`` and ``orders`` on
``/ws/v5/private``, ``orders-algo`` on ``/ws/v5/business``), each test run on both: every change
pushed from the stream with exact figures, no REST cycle and no REST fill look-up needed for it;
a disconnect, a silence and duplicates lose or repeat nothing.

Sizes are written in BTC/ETH and ``live.qty`` turns them into the exchange's order units (OKX
counts contracts of 0.01 BTC and 0.1 ETH), so one set of figures checks both exchanges.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from positionbot.tracker.core.models import OrderSide, Side, TradeStatus
from positionbot.tracker.core.stream_events import StreamBatch
from positionbot.tracker.engine.commands import TradeCommands
from tests.support.stream import ACCOUNT, BTC, ETH, FAST_TIMING, D, eventually
from tests.support.venue_streams import KitLive, venue_hedge_live, venue_live

__all__ = ["venue_hedge_live", "venue_live"]  # fixtures

BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def test_open_increase_partial_close_and_close_are_pushed_from_the_stream(
        venue_live: KitLive) -> None:
    live = venue_live
    cycles = live.tracker.cycles_completed
    fetched = live.fills_asked()
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.set_mark(BTC, D("50100"))
    live.venue.manual_order(BTC, BUY, live.qty("0.030"))
    await eventually(lambda: live.trades()[0].size == live.qty("0.040"))
    assert live.trades()[0].avg_entry_price == D("50075")  # (50000*0.01 + 50100*0.03) / 0.04
    live.venue.set_mark(BTC, D("51000"))
    live.venue.manual_order(BTC, SELL, live.qty("0.015"), reduce_only=True)
    await eventually(lambda: live.trades()[0].size == live.qty("0.025"))
    live.venue.set_mark(BTC, D("49000"))
    live.venue.manual_order(BTC, SELL, live.qty("0.025"), reduce_only=True)
    await eventually(lambda: live.trades() == [])
    assert live.tracker.cycles_completed == cycles  # the stream alone
    assert live.fills_asked() == fetched  # priced from the fills the stream carries
    notices = await live.notices()
    assert [k for k, _ in notices] == ["opened", "increased", "decreased", "closed"]
    opened, increased, decreased, closed = (f for _, f in notices)
    assert (opened["size_after"], opened["price"]) == (str(live.qty("0.010")), "50000")
    assert (increased["price"], increased["avg_entry"]) == ("50100", "50075")
    assert decreased["price"] == "51000" and decreased["estimated"] in ("0", False)
    # (51000 - 50075) * 0.015 BTC less the taker fee 51000 * 0.015 * 0.0004
    assert D(decreased["realized_pnl"]) == D("13.875") - D("0.306")
    assert closed["price"] == "49000" and closed["estimated"] in ("0", False)
    (trade,) = await live.store.list_trades(ACCOUNT)
    assert trade.status is TradeStatus.CLOSED
    assert trade.realized_pnl == live.venue.realized_pnl() - live.venue.fees_paid()


async def test_a_flip_is_pushed_from_the_stream(venue_live: KitLive) -> None:
    live = venue_live
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.set_mark(BTC, D("50500"))
    live.venue.manual_order(BTC, SELL, live.qty("0.030"))
    await eventually(lambda: [t.side.value for t in live.trades()] == ["short"])
    (short,) = live.trades()
    assert (short.size, short.avg_entry_price) == (live.qty("0.020"), D("50500"))
    assert await live.kinds() == ["opened", "flipped"]


async def test_stop_loss_hit_is_pushed_from_the_stream(venue_live: KitLive) -> None:
    live = venue_live
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    result = await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    assert result.placed
    cycles = live.tracker.cycles_completed
    # Bybit's conditional order fires under its own id; OKX's algo order places a new order
    live.venue.set_mark(BTC, D("47990"))
    await eventually(lambda: live.trades() == [])
    assert live.tracker.cycles_completed == cycles
    (closed,) = await live.store.list_trades(ACCOUNT)
    assert closed.close_reason == "stop_loss"
    kinds = await live.kinds()
    assert kinds.count("stop_loss_hit") == 1 and "closed" not in kinds
    _, fields = next(n for n in await live.notices() if n[0] == "stop_loss_hit")
    assert fields["price"] == "47990"


async def test_hedge_legs_are_followed_apart_and_an_emptied_leg_is_stated_flat(
        venue_hedge_live: KitLive) -> None:
    """Bybit tells the legs by ``positionIdx``, OKX by ``posSide``; both state an emptied leg
    by a row of size "0"."""
    live = venue_hedge_live
    live.venue.manual_order(BTC, BUY, live.qty("0.010"), position_side=Side.LONG)
    live.venue.manual_order(BTC, SELL, live.qty("0.020"), position_side=Side.SHORT)
    await eventually(lambda: len(live.trades()) == 2)
    by_side = {t.side: t for t in live.trades()}
    assert (by_side[Side.LONG].size, by_side[Side.SHORT].size) == (live.qty("0.010"),
                                                                   live.qty("0.020"))
    cycles = live.tracker.cycles_completed
    live.venue.set_mark(BTC, D("50200"))
    live.venue.manual_order(BTC, SELL, live.qty("0.010"), position_side=Side.LONG)
    await eventually(lambda: [t.side for t in live.trades()] == [Side.SHORT])
    assert live.trades()[0].size == live.qty("0.020")
    assert live.tracker.cycles_completed == cycles
    notices = await live.notices()
    assert [k for k, _ in notices] == ["opened", "opened", "closed"]
    # (50200 - 50000) * 0.010 BTC less the taker fee 50200 * 0.010 * 0.0004
    assert D(notices[-1][1]["realized_pnl"]) == D("2") - D("0.2008")


async def test_a_stop_cancelled_by_hand_is_reported_at_once(venue_live: KitLive) -> None:
    live = venue_live
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    (stop,) = live.venue.open_stop_orders()
    cycles = live.tracker.cycles_completed
    live.venue.manual_cancel(stop.id)  # Bybit: "Deactivated"; OKX: "canceled" on orders-algo
    await eventually(lambda: live.tracker.cycles_completed == cycles + 1)  # at once
    assert live.trades()[0].stop_loss_order_id is None
    assert (await live.kinds())[-1] == "stop_loss_removed"


async def test_a_burst_is_applied_whole_without_rest(venue_live: KitLive) -> None:
    live = venue_live
    cycles = live.tracker.cycles_completed
    positions_fetched = live.server.count(live.kit.positions)
    stream_calls = live.stream.calls  # the markets, loaded once when the stream connected
    fills_fetched = live.fills_asked()
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    live.venue.manual_order(ETH, SELL, live.qty("0.10", ETH))
    live.venue.manual_order(BTC, BUY, live.qty("0.002"))
    await eventually(lambda: {(t.symbol, t.size) for t in live.trades()}
                     == {(BTC, live.qty("0.012")), (ETH, live.qty("0.10", ETH))})
    assert live.tracker.cycles_completed == cycles
    assert live.server.count(live.kit.positions) == positions_fetched
    assert live.stream.calls == stream_calls  # the stream itself asked nothing by REST
    assert live.fills_asked() == fills_fetched


async def test_a_change_during_a_disconnect_is_recovered_by_the_reconnect_and_pushed_once(
        venue_live: KitLive) -> None:
    live = venue_live
    await live.server.stream.drop()
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))  # nobody is listening
    await eventually(lambda: live.follower.reconnects_today == 1 and live.follower.connected)
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.manual_order(BTC, BUY, live.qty("0.005"))  # and the new session follows again
    await eventually(lambda: live.trades()[0].size == live.qty("0.015"))
    await live.tracker.run_cycle(ACCOUNT)  # the verifying poll
    assert await live.kinds() == ["opened", "increased"]


async def test_a_silent_socket_is_detected_and_replaced(venue_live: KitLive) -> None:
    live = venue_live
    live.server.stream.faults.silent = True  # no events and no pongs: a half-open socket
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    await eventually(lambda: not live.follower.connected, timeout=3 * FAST_TIMING.silence)
    assert "timed out" in (live.follower.last_error or "")
    live.server.stream.faults.silent = False  # a new session is answered again
    await eventually(lambda: live.follower.connected and len(live.trades()) == 1)
    assert live.follower.reconnects_today == 1
    assert await live.kinds() == ["opened"]


async def test_duplicated_events_give_one_push(venue_live: KitLive) -> None:
    live = venue_live
    live.server.stream.faults.duplicate = 100
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.manual_order(BTC, SELL, live.qty("0.004"), reduce_only=True)
    await eventually(lambda: live.trades()[0].size == live.qty("0.006"))
    await asyncio.sleep(0.1)  # the duplicates have arrived by now
    assert await live.kinds() == ["opened", "decreased"]
    (trade,) = live.trades()
    assert trade.fees == live.venue.fees_paid()  # each fill's fee once


async def test_a_revoked_key_keeps_the_stream_down_and_polling_on(venue_live: KitLive) -> None:
    live = venue_live
    live.server.bad_api_keys.add("test-key")
    await live.server.stream.drop()
    await eventually(lambda: live.follower.last_error is not None
                     and "stream connect failed" in live.follower.last_error)
    assert not live.follower.connected and live.follower.poll_interval is None


async def test_reordered_events_give_one_push_and_the_newest_state(venue_live: KitLive) -> None:
    live = venue_live
    batches: list[StreamBatch] = []
    original = live.follower.apply

    async def hold(batch: StreamBatch) -> None:
        batches.append(batch)

    live.follower.apply = hold  # type: ignore[method-assign]
    live.venue.manual_order(BTC, BUY, live.qty("0.010"))
    live.venue.manual_order(BTC, BUY, live.qty("0.005"))
    await eventually(lambda: sum(len(b.positions) for b in batches) >= 2)
    live.follower.apply = original  # type: ignore[method-assign]
    reports = [r for b in batches for r in b.positions]
    fills = tuple(f for b in batches for f in b.fills)
    newest = reports[-1]
    older = replace(reports[0], at=newest.at - timedelta(milliseconds=1))
    assert (older.size, newest.size) == (live.qty("0.010"), live.qty("0.015"))
    await original(StreamBatch(positions=(newest,), fills=fills))
    await original(StreamBatch(positions=(older,), fills=fills))  # late: dropped
    await original(StreamBatch(positions=(newest,), fills=fills))  # again: nothing new
    (trade,) = live.trades()
    assert trade.size == live.qty("0.015")
    assert await live.kinds() == ["opened"]


async def test_stream_and_poll_racing_on_one_change_give_one_push(venue_live: KitLive) -> None:
    live = venue_live
    for size in ("0.010", "0.002", "0.003"):
        live.venue.manual_order(BTC, BUY, live.qty(size))
        await live.tracker.run_cycle(ACCOUNT)  # the poll runs while the stream delivers
    await eventually(lambda: bool(live.trades()) and live.trades()[0].size == live.qty("0.015"))
    await asyncio.sleep(0.1)
    assert await live.kinds() == ["opened", "increased", "increased"]
