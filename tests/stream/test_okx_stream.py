"""Through real ccxt.pro against the fake OKX v5 private streams (``positions`` and ``orders`` on
``/ws/v5/private``, ``orders-algo`` on ``/ws/v5/business``): every change pushed from the stream
with exact figures — sizes in contracts of 0.01 BTC —, no REST cycle and no REST fill look-up
needed for it; a disconnect, a silence and duplicates lose or repeat nothing."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from positionbot.bot.config import load_config
from positionbot.bot.wiring import build_streams
from positionbot.fakes import okx_wire
from positionbot.tracker.core.models import OrderSide, Side, TradeStatus
from positionbot.tracker.core.stream_events import StreamBatch
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.exchange.ccxt.stream import CcxtUserStream
from tests.support.config import OKX, OKX_ENV, WriteConfig
from tests.support.config import write_config as write_config
from tests.support.stream import ACCOUNT, BTC, ETH, FAST_TIMING, D, eventually
from tests.support.venue_streams import KitLive, okx_hedge_live, okx_live

__all__ = ["okx_hedge_live", "okx_live", "write_config"]  # fixtures

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fills_asked(live: KitLive) -> int:
    """REST fill listings: the recent fills and the fills history."""
    return live.server.count("/api/v5/trade/fills") + live.server.count(
        "/api/v5/trade/fills-history")

POSITIONS = "/api/v5/account/positions"


async def test_open_increase_partial_close_and_close_are_pushed_from_the_stream(
        okx_live: KitLive) -> None:
    live = okx_live
    cycles = live.tracker.cycles_completed
    fetched = fills_asked(live)
    live.venue.manual_order(BTC, BUY, D("1"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.set_mark(BTC, D("50100"))
    live.venue.manual_order(BTC, BUY, D("3"))
    await eventually(lambda: live.trades()[0].size == D("4"))
    assert live.trades()[0].avg_entry_price == D("50075")  # (50000*1 + 50100*3) / 4 contracts
    live.venue.set_mark(BTC, D("51000"))
    live.venue.manual_order(BTC, SELL, D("1.5"), reduce_only=True)
    await eventually(lambda: live.trades()[0].size == D("2.5"))
    live.venue.set_mark(BTC, D("49000"))
    live.venue.manual_order(BTC, SELL, D("2.5"), reduce_only=True)
    await eventually(lambda: live.trades() == [])
    assert live.tracker.cycles_completed == cycles  # the stream alone
    assert fills_asked(live) == fetched  # priced from the fills the orders carry
    notices = await live.notices()
    assert [k for k, _ in notices] == ["opened", "increased", "decreased", "closed"]
    opened, increased, decreased, closed = (f for _, f in notices)
    assert (opened["size_after"], opened["price"]) == ("1", "50000")
    assert (increased["price"], increased["avg_entry"]) == ("50100", "50075")
    assert decreased["price"] == "51000" and decreased["estimated"] in ("0", False)
    # (51000 - 50075) * 1.5 contracts * 0.01 BTC less the taker fee 51000 * 0.015 * 0.0004
    assert D(decreased["realized_pnl"]) == D("13.875") - D("0.306")
    assert closed["price"] == "49000" and closed["estimated"] in ("0", False)
    (trade,) = await live.store.list_trades(ACCOUNT)
    assert trade.status is TradeStatus.CLOSED
    assert trade.realized_pnl == live.venue.realized_pnl() - live.venue.fees_paid()


async def test_a_flip_is_pushed_from_the_stream(okx_live: KitLive) -> None:
    live = okx_live
    live.venue.manual_order(BTC, BUY, D("1"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.set_mark(BTC, D("50500"))
    live.venue.manual_order(BTC, SELL, D("3"))
    await eventually(lambda: [t.side.value for t in live.trades()] == ["short"])
    (short,) = live.trades()
    assert (short.size, short.avg_entry_price) == (D("2"), D("50500"))
    assert await live.kinds() == ["opened", "flipped"]


async def test_stop_loss_hit_is_pushed_from_the_stream(okx_live: KitLive) -> None:
    live = okx_live
    live.venue.manual_order(BTC, BUY, D("1"))
    await eventually(lambda: len(live.trades()) == 1)
    result = await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    assert result.placed
    cycles = live.tracker.cycles_completed
    live.venue.set_mark(BTC, D("47990"))  # the algo order fires and places a new order
    await eventually(lambda: live.trades() == [])
    assert live.tracker.cycles_completed == cycles
    (closed,) = await live.store.list_trades(ACCOUNT)
    assert closed.close_reason == "stop_loss"
    kinds = await live.kinds()
    assert kinds.count("stop_loss_hit") == 1 and "closed" not in kinds
    _, fields = next(n for n in await live.notices() if n[0] == "stop_loss_hit")
    assert fields["price"] == "47990"


async def test_hedge_legs_by_position_idx_and_an_emptied_leg_is_stated_flat(
        okx_hedge_live: KitLive) -> None:
    live = okx_hedge_live
    live.venue.manual_order(BTC, BUY, D("1"), position_side=Side.LONG)
    live.venue.manual_order(BTC, SELL, D("2"), position_side=Side.SHORT)
    await eventually(lambda: len(live.trades()) == 2)
    by_side = {t.side: t for t in live.trades()}
    assert (by_side[Side.LONG].size, by_side[Side.SHORT].size) == (D("1"), D("2"))
    cycles = live.tracker.cycles_completed
    live.venue.set_mark(BTC, D("50200"))
    live.venue.manual_order(BTC, SELL, D("1"), position_side=Side.LONG)  # a row with pos "0"
    await eventually(lambda: [t.side for t in live.trades()] == [Side.SHORT])
    assert live.trades()[0].size == D("2")
    assert live.tracker.cycles_completed == cycles
    notices = await live.notices()
    assert [k for k, _ in notices] == ["opened", "opened", "closed"]
    # (50200 - 50000) * 1 contract * 0.01 BTC less the taker fee 50200 * 0.010 * 0.0004
    assert D(notices[-1][1]["realized_pnl"]) == D("2") - D("0.2008")


async def test_a_stop_cancelled_by_hand_is_reported_at_once(okx_live: KitLive) -> None:
    live = okx_live
    live.venue.manual_order(BTC, BUY, D("1"))
    await eventually(lambda: len(live.trades()) == 1)
    await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    (stop,) = live.venue.open_stop_orders()
    cycles = live.tracker.cycles_completed
    live.venue.manual_cancel(stop.id)  # "canceled" on orders-algo
    await eventually(lambda: live.tracker.cycles_completed == cycles + 1)  # at once
    assert live.trades()[0].stop_loss_order_id is None
    assert (await live.kinds())[-1] == "stop_loss_removed"


async def test_a_burst_is_applied_whole_without_rest(okx_live: KitLive) -> None:
    live = okx_live
    cycles = live.tracker.cycles_completed
    positions_fetched = live.server.count(POSITIONS)
    stream_calls = live.stream.calls  # the markets, loaded once when the stream connected
    fills_fetched = fills_asked(live)
    live.venue.manual_order(BTC, BUY, D("1"))
    live.venue.manual_order(ETH, SELL, D("1"))
    live.venue.manual_order(BTC, BUY, D("0.2"))
    await eventually(lambda: {(t.symbol, t.size) for t in live.trades()}
                     == {(BTC, D("1.2")), (ETH, D("1"))})
    assert live.tracker.cycles_completed == cycles
    assert live.server.count(POSITIONS) == positions_fetched
    assert live.stream.calls == stream_calls  # the stream itself asked nothing by REST
    assert fills_asked(live) == fills_fetched


async def test_a_change_during_a_disconnect_is_recovered_by_the_reconnect_and_pushed_once(
        okx_live: KitLive) -> None:
    live = okx_live
    await live.server.stream.drop()
    live.venue.manual_order(BTC, BUY, D("1"))  # nobody is listening
    await eventually(lambda: live.follower.reconnects_today == 1 and live.follower.connected)
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.manual_order(BTC, BUY, D("0.5"))  # and the new session follows changes again
    await eventually(lambda: live.trades()[0].size == D("1.5"))
    await live.tracker.run_cycle(ACCOUNT)  # the verifying poll
    assert await live.kinds() == ["opened", "increased"]


async def test_a_silent_socket_is_detected_and_replaced(okx_live: KitLive) -> None:
    live = okx_live
    live.server.stream.faults.silent = True  # no events and no pongs: a half-open socket
    live.venue.manual_order(BTC, BUY, D("1"))
    await eventually(lambda: not live.follower.connected, timeout=3 * FAST_TIMING.silence)
    assert "timed out" in (live.follower.last_error or "")
    live.server.stream.faults.silent = False  # a new session is answered again
    await eventually(lambda: live.follower.connected and len(live.trades()) == 1)
    assert live.follower.reconnects_today == 1
    assert await live.kinds() == ["opened"]


async def test_duplicated_events_give_one_push(okx_live: KitLive) -> None:
    live = okx_live
    live.server.stream.faults.duplicate = 100
    live.venue.manual_order(BTC, BUY, D("1"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.manual_order(BTC, SELL, D("0.4"), reduce_only=True)
    await eventually(lambda: live.trades()[0].size == D("0.6"))
    await asyncio.sleep(0.1)  # the duplicates have arrived by now
    assert await live.kinds() == ["opened", "decreased"]
    (trade,) = live.trades()
    assert trade.fees == live.venue.fees_paid()  # each fill's fee once


async def test_a_revoked_key_keeps_the_stream_down_and_polling_on(okx_live: KitLive) -> None:
    live = okx_live
    live.server.bad_api_keys.add("test-key")
    await live.server.stream.drop()
    await eventually(lambda: live.follower.last_error is not None
                     and "stream connect failed" in live.follower.last_error)
    assert not live.follower.connected and live.follower.poll_interval is None


async def test_position_snapshots_repeat_nothing_and_leaving_one_out_closes_nothing(
        okx_live: KitLive) -> None:
    """OKX pushes the open positions every few seconds (and at subscription): a row repeating
    what was said changes nothing, and a push that does not list a position does not close it."""
    live = okx_live
    live.venue.manual_order(BTC, BUY, D("1"))
    live.venue.manual_order(ETH, SELL, D("2"))
    await eventually(lambda: len(live.trades()) == 2)
    cycles = live.tracker.cycles_completed
    for _ in range(3):
        live.server.stream.snapshot()
    eth = next(p for p in live.venue.positions() if p.symbol == ETH)
    row = okx_wire.position_json(eth, "ETH-USDT-SWAP", hedge=False, leverage=10,
                                 liquidation=None, settle="USDT")
    live.server.stream.push("positions", json.dumps(
        {"arg": {"channel": "positions", "instType": "ANY"}, "data": [row]}))
    live.venue.manual_order(ETH, BUY, D("1"), reduce_only=True)  # and the stream still follows
    await eventually(lambda: {t.symbol: t.size for t in live.trades()} == {BTC: D("1"),
                                                                           ETH: D("1")})
    await asyncio.sleep(0.1)
    assert live.tracker.cycles_completed == cycles
    assert await live.kinds() == ["opened", "opened", "decreased"]


async def test_reordered_events_give_one_push_and_the_newest_state(okx_live: KitLive) -> None:
    live = okx_live
    batches: list[StreamBatch] = []
    original = live.follower.apply

    async def hold(batch: StreamBatch) -> None:
        batches.append(batch)

    live.follower.apply = hold  # type: ignore[method-assign]
    live.venue.manual_order(BTC, BUY, D("1"))
    live.venue.manual_order(BTC, BUY, D("0.5"))
    await eventually(lambda: sum(len(b.positions) for b in batches) >= 2)
    live.follower.apply = original  # type: ignore[method-assign]
    reports = [r for b in batches for r in b.positions]
    fills = tuple(f for b in batches for f in b.fills)
    newest = reports[-1]
    older = replace(reports[0], at=newest.at - timedelta(milliseconds=1))
    assert (older.size, newest.size) == (D("1"), D("1.5"))
    await original(StreamBatch(positions=(newest,), fills=fills))
    await original(StreamBatch(positions=(older,), fills=fills))  # late: dropped
    await original(StreamBatch(positions=(newest,), fills=fills))  # again: nothing new
    (trade,) = live.trades()
    assert trade.size == D("1.5")
    assert await live.kinds() == ["opened"]


async def test_stream_and_poll_racing_on_one_change_give_one_push(okx_live: KitLive) -> None:
    live = okx_live
    for size in ("1", "0.2", "0.3"):
        live.venue.manual_order(BTC, BUY, D(size))
        await live.tracker.run_cycle(ACCOUNT)  # the poll runs while the stream delivers
    await eventually(lambda: bool(live.trades()) and live.trades()[0].size == D("1.5"))
    await asyncio.sleep(0.1)
    assert await live.kinds() == ["opened", "increased", "increased"]


async def test_an_okx_and_a_bybit_account_get_their_stream_by_default(
        write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OKX_ENV.items():
        monkeypatch.setenv(name, value)
    bybit = OKX.replace('name = "okx"', 'name = "bybit"').replace('exchange = "okx"',
                                                                'exchange = "bybit"')
    config = load_config(write_config(OKX + bybit), OKX_ENV)
    streams = build_streams(config)
    try:
        assert sorted(streams) == ["bybit", "okx"]
        assert all(isinstance(s, CcxtUserStream) for s in streams.values())
    finally:
        for stream in streams.values():
            await stream.shutdown()
