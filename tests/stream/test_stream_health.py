"""Stream health through real ccxt.pro against the fake: drops, silence, expired listen keys,
duplicates, reordering and races with the poll never lose or repeat a push."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from positionbot.bot.config import TelegramConfig, load_config
from positionbot.bot.handlers.services import Services
from positionbot.bot.markets_cache import MarketsCache
from positionbot.bot.render.listing import render_status
from positionbot.bot.wiring import attach_followers
from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import ccxt_config_for
from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.core.stream_events import StreamBatch
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.stream_follower import StreamFollower, StreamSettings
from positionbot.tracker.exchange.ccxt.stream import CcxtUserStream
from positionbot.tracker.exchange.paper.faults import Fault as PaperFault
from positionbot.tracker.exchange.paper.stream import PaperStream
from tests.support.config import ACCOUNT as CONFIG_ACCOUNT
from tests.support.config import ENV, WriteConfig
from tests.support.config import write_config as write_config
from tests.support.stream import (
    ACCOUNT,
    BTC,
    FAST_TIMING,
    D,
    Live,
    close_live,
    eventually,
    live_env,
)
from tests.support.tracker import Env, make_env

BUY, SELL = OrderSide.BUY, OrderSide.SELL
PAPER_FOLLOW = StreamSettings(backoff_initial=0.5, backoff_max=8.0, coalesce=0)


async def test_a_change_during_a_disconnect_is_recovered_by_the_reconnect_and_pushed_once(
        live: Live) -> None:
    await live.server.stream.drop()
    live.venue.manual_order(BTC, BUY, D("0.010"))  # nobody is listening
    await eventually(lambda: live.follower.reconnects_today == 1 and live.follower.connected)
    await eventually(lambda: len(live.trades()) == 1)
    assert live.server.stream.connections == 2
    live.venue.manual_order(BTC, BUY, D("0.005"))  # and the new session follows changes again
    await eventually(lambda: live.trades()[0].size == D("0.015"))
    await live.tracker.run_cycle(ACCOUNT)  # the verifying poll
    assert await live.kinds() == ["opened", "increased"]


async def test_an_expired_listen_key_is_replaced_and_the_gap_recovered(live: Live) -> None:
    first_key = live.server.stream.listen_key
    live.server.stream.expire()  # listenKeyExpired; the socket stays open and silent
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: live.follower.reconnects_today == 1 and live.follower.connected)
    await eventually(lambda: len(live.trades()) == 1)
    assert live.server.stream.keys_created == 2
    assert live.server.stream.listen_key not in (None, first_key)
    live.venue.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    await eventually(lambda: live.trades() == [])
    assert await live.kinds() == ["opened", "closed"]


async def test_the_listen_key_is_kept_alive_by_the_bot(live: Live) -> None:
    await eventually(lambda: live.server.stream.keepalives >= 3, timeout=3 * FAST_TIMING.keepalive + 2)
    assert live.server.stream.keys_created == 1
    assert live.server.count("/fapi/v1/listenKey", "PUT") == live.server.stream.keepalives


async def test_a_key_expired_without_an_event_is_found_by_the_keep_alive(live: Live) -> None:
    live.server.stream.listen_key_request("DELETE")  # gone, and nothing said on the socket
    await eventually(lambda: live.follower.reconnects_today == 1 and live.follower.connected)
    assert live.server.stream.keys_created == 2


async def test_a_silent_socket_is_detected_and_replaced(live: Live) -> None:
    live.server.stream.faults.silent = True  # no events and no pongs: a half-open socket
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: live.follower.reconnects_today >= 1, timeout=3 * FAST_TIMING.silence)
    live.server.stream.faults.silent = False
    await eventually(lambda: live.follower.connected and len(live.trades()) == 1)
    assert await live.kinds() == ["opened"]


async def test_duplicated_events_give_one_push(live: Live) -> None:
    live.server.stream.faults.duplicate = 100
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    live.venue.manual_order(BTC, SELL, D("0.004"), reduce_only=True)
    await eventually(lambda: live.trades()[0].size == D("0.006"))
    await asyncio.sleep(0.1)  # the duplicates have arrived by now
    assert await live.kinds() == ["opened", "decreased"]
    (trade,) = live.trades()
    assert trade.fees == live.venue.fees_paid()  # each fill's fee once


async def test_reordered_events_give_one_push_and_the_newest_state(live: Live) -> None:
    batches: list[StreamBatch] = []
    original = live.follower.apply

    async def hold(batch: StreamBatch) -> None:
        batches.append(batch)

    live.follower.apply = hold  # type: ignore[method-assign]
    live.venue.manual_order(BTC, BUY, D("0.010"))
    live.venue.manual_order(BTC, BUY, D("0.005"))
    await eventually(lambda: sum(len(b.positions) for b in batches) >= 2)
    live.follower.apply = original  # type: ignore[method-assign]
    reports = [r for b in batches for r in b.positions]
    fills = tuple(f for b in batches for f in b.fills)
    newest = reports[-1]
    older = replace(reports[0], at=newest.at - timedelta(milliseconds=1))
    assert (older.size, newest.size) == (D("0.010"), D("0.015"))
    await original(StreamBatch(positions=(newest,), fills=fills))
    await original(StreamBatch(positions=(older,), fills=fills))  # late: dropped
    await original(StreamBatch(positions=(newest,), fills=fills))  # again: nothing new
    (trade,) = live.trades()
    assert trade.size == D("0.015")
    assert await live.kinds() == ["opened"]


async def test_stream_and_poll_racing_on_one_change_give_one_push(live: Live) -> None:
    for size in ("0.010", "0.002", "0.003"):
        live.venue.manual_order(BTC, BUY, D(size))
        await live.tracker.run_cycle(ACCOUNT)  # the poll runs while the stream delivers
    await eventually(lambda: bool(live.trades()) and live.trades()[0].size == D("0.015"))
    await asyncio.sleep(0.1)
    assert await live.kinds() == ["opened", "increased", "increased"]


async def test_a_long_outage_gives_one_alert_and_one_recovery(tmp_path: Path) -> None:
    live = await live_env(tmp_path, alert_after=0.3)  # alert_after_failures × interval in production
    try:
        live.server.stream.faults.refuse = 10**6
        await live.server.stream.drop()
        await asyncio.sleep(0.8)
        assert not live.follower.connected
        live.server.stream.faults.refuse = 0
        await eventually(lambda: live.follower.connected, timeout=5)
        kinds = await live.kinds()
        assert kinds.count("exchange_unreachable") == 1
        assert kinds.count("exchange_recovered") == 1
        _, fields = next(n for n in await live.notices() if n[0] == "exchange_unreachable")
        assert "stream" in fields["error"]
    finally:
        await close_live(live)


async def test_delayed_events_are_applied_late_but_once_and_exactly(live: Live) -> None:
    live.server.stream.faults.delay = 0.3
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await asyncio.sleep(0.15)
    assert live.trades() == []  # not yet told, and absence changed nothing
    await eventually(lambda: len(live.trades()) == 1)
    assert live.trades()[0].avg_entry_price == D("50000")
    await live.tracker.run_cycle(ACCOUNT)
    assert await live.kinds() == ["opened"]


async def test_a_refused_listen_key_is_retried_with_back_off_and_polling_carries_on(
        live: Live) -> None:
    live.server.inject(*[Fault.server_error("/listenKey", method="POST")] * 2)
    live.server.stream.expire()  # a new key is needed: the next two requests for one fail
    await eventually(lambda: not live.follower.connected)
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: live.follower.connected and len(live.trades()) == 1)
    assert live.server.count("/fapi/v1/listenKey", "POST") >= 3
    assert live.follower.reconnects_today == 1
    assert await live.kinds() == ["opened"]


async def test_stops_are_listed_every_other_verifying_poll_and_a_missed_removal_is_still_found(
        live: Live) -> None:
    """While the stream reports stops, a verifying poll that finds nothing changed reuses the
    last stop listing if it is younger than ``stops_every`` polls; a stop removed by hand is
    still reported at once from the stream, and by REST within ``stops_every`` polls when the
    stream missed it."""
    live.follower.settings = replace(live.follower.settings, verify_interval=1.0, stops_every=2)
    live.tracker.streams[ACCOUNT] = live.follower  # as the wiring does
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)

    async def set_stop() -> None:
        seen = live.follower.stop_orders_seen
        await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
        await eventually(lambda: live.follower.stop_orders_seen > seen)  # its ALGO_UPDATE

    async def poll() -> tuple[int, int]:
        """One verifying poll: (position listings, stop listings) it made."""
        positions, stops = live.server.count("/positionRisk"), live.server.count("/openAlgoOrders")
        assert (await live.tracker.run_cycle(ACCOUNT)).ok
        return (live.server.count("/positionRisk") - positions,
                live.server.count("/openAlgoOrders") - stops)

    await set_stop()
    assert await poll() == (1, 1)  # the stop placed since: listed
    assert await poll() == (1, 0)  # nothing changed, the listing is young: reused
    await asyncio.sleep(1.5)  # (stops_every - 0.5) × verify_interval
    assert await poll() == (1, 1)
    assert await poll() == (1, 0)

    (stop,) = live.venue.open_stop_orders()
    live.server.stream.faults.lose = 1  # the stream misses the removal...
    live.venue.manual_cancel(stop.id)
    assert await poll() == (1, 0)
    assert live.trades()[0].stop_loss_order_id == stop.id  # ...and so does this poll
    await asyncio.sleep(1.5)
    assert await poll() == (1, 1)  # found by REST within stops_every polls
    assert live.trades()[0].stop_loss_order_id is None
    assert (await live.kinds())[-1] == "stop_loss_removed"

    await set_stop()
    await poll()
    assert await poll() == (1, 0)
    (stop,) = live.venue.open_stop_orders()
    cycles = live.tracker.cycles_completed
    live.venue.manual_cancel(stop.id)  # reported on the stream: the cycle it runs lists them
    await eventually(lambda: live.tracker.cycles_completed == cycles + 1)
    assert live.trades()[0].stop_loss_order_id is None
    assert (await live.kinds()).count("stop_loss_removed") == 2

    await set_stop()
    await poll()
    assert await poll() == (1, 0)
    listed = live.server.count("/openAlgoOrders")
    await live.server.stream.drop()  # a reconnect's REST cycle lists the stops again
    await eventually(lambda: live.follower.reconnects_today == 1 and live.follower.connected)
    assert live.server.count("/openAlgoOrders") == listed + 1
    assert await poll() == (1, 0)
    await live.follower.apply(StreamBatch(gap="unreadable ALGO_UPDATE"))  # so does a gap's
    assert live.server.count("/openAlgoOrders") == listed + 2


def _paper_follower(env: Env, settings: StreamSettings = PAPER_FOLLOW, *, alert_after: float = 45.0
                    ) -> tuple[PaperStream, StreamFollower, list[float], list[float]]:
    """A follower of the paper stream whose back-off sleeps move a hand monotonic clock (and
    the wall clock) instead of waiting; returns the stream, the follower, the delays slept and
    the monotonic clock (one cell)."""
    stream = PaperStream(env.exchange, "paper")
    delays: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        now[0] += seconds
        env.clock.advance(seconds)
        await asyncio.sleep(0)

    follower = StreamFollower(env.tracker, stream, env.store, settings, alert_after=alert_after,
                              clock=env.clock, sleep=sleep, monotonic=lambda: now[0])
    env.tracker.streams["paper"] = follower
    return stream, follower, delays, now


async def test_reconnects_back_off_doubling_to_a_bound_and_start_over_after_a_session(
        tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    stream, follower, delays, _ = _paper_follower(env)
    stream.refuse_opens = 2_000  # hours of refusals: the delay stays bounded (and computable)
    follower.start()
    try:
        await eventually(lambda: follower.connected, timeout=30)
        assert delays[:7] == [0.5, 1, 2, 4, 8, 8, 8]
        assert len(delays) == 2_000 and max(delays) == 8
        stream.drop()
        await eventually(lambda: follower.reconnects_today == 1 and follower.connected)
        assert delays[2_000:] == [0.5]  # the session was trusted: the back-off starts over
        stream.drop()
        await eventually(lambda: follower.reconnects_today == 2 and follower.connected)
        assert delays[2_001:] == [0.5]
    finally:
        await follower.stop()
        await env.store.close()


async def test_every_session_is_trusted_only_after_its_rest_cycle_succeeded(
        tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    stream, follower, delays, _ = _paper_follower(env)
    env.exchange.inject(PaperFault.UNAVAILABLE, PaperFault.UNAVAILABLE)  # two sessions' cycles fail
    cycles = env.tracker.cycles_completed
    follower.start()
    try:
        await eventually(lambda: follower.connected)
        assert env.tracker.cycles_completed == cycles + 3  # one per session, two failed
        assert delays == [0.5, 1] and follower.reconnects_today == 2
        stream.drop()
        env.exchange.manual_order(BTC, BUY, D("0.010"))  # while nobody listens
        await eventually(lambda: follower.reconnects_today == 3 and follower.connected)
        assert env.tracker.cycles_completed == cycles + 4
        assert len(env.trades()) == 1 and await env.kinds() == ["opened"]  # found by that cycle
    finally:
        await follower.stop()
        await env.store.close()


async def test_a_stream_down_past_the_alert_delay_gives_one_alert_and_one_recovery(
        tmp_path: Path, write_config: WriteConfig) -> None:
    config = load_config(write_config(CONFIG_ACCOUNT), ENV)
    env = await make_env(tmp_path)
    attach_followers(config, env.tracker, env.store, {"paper": PaperStream(env.exchange, "paper")})
    t = config.tracker
    assert env.tracker.streams["paper"].alert_after == t.alert_after_failures * t.interval_seconds
    stream, follower, _, now = _paper_follower(env, alert_after=45.0)
    stream.refuse_opens = 10**6
    follower.start()
    try:
        await eventually(lambda: now[0] > 45.0 + 5 * 8.0)  # down well past the delay
        kinds = await env.kinds()
        assert kinds == ["exchange_unreachable"]  # one, though it kept failing
        _, fields = (await env.notices())[-1]
        down = int(fields["error"].split("down for ")[1].split("s")[0])
        assert 45 <= down <= 45 + 8  # at the first failed attempt past the delay
        assert "polling instead" in fields["error"]
        stream.refuse_opens = 0
        await eventually(lambda: follower.connected)
        assert await env.kinds() == ["exchange_unreachable", "exchange_recovered"]
        stream.drop()  # a short drop later: no alert, no recovery
        await eventually(lambda: follower.reconnects_today == 1 and follower.connected)
        assert await env.kinds() == ["exchange_unreachable", "exchange_recovered"]
    finally:
        await follower.stop()
        await env.store.close()


async def test_status_shows_the_followers_connection_last_event_and_reconnects_today(
        tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    stream, follower, _, _ = _paper_follower(env)
    markets = MarketsCache(lambda account: env.tracker.markets(account))
    services = Services(env.tracker, env.store, TelegramConfig(allowed_chats=[1]), markets,
                        clock=env.clock)

    async def status() -> str:
        return render_status(await services.account_views(), 0, "1", 1.0, [], env.clock())

    try:
        assert "stream down, polling · no event yet · 0 reconnects today" in await status()
        follower.start()
        await eventually(lambda: follower.connected)
        env.exchange.manual_order(BTC, BUY, D("0.010"))
        await eventually(lambda: len(env.trades()) == 1)
        env.clock.advance(12)
        assert "stream connected · last event 12s ago · 0 reconnects today" in await status()
        stream.drop()
        await eventually(lambda: follower.reconnects_today == 1 and follower.connected)
        assert "· 1 reconnect today" in await status()
        env.clock.advance(24 * 3600)  # a new day: counted afresh
        stream.drop()
        await eventually(lambda: follower.reconnects_today == 1 and follower.connected
                         and follower.last_error is not None)
        await follower.stop()
        assert "stream down, polling · last event 1d" in await status()
    finally:
        await follower.stop()
        await env.store.close()


async def test_a_stream_that_reports_stops_vouches_for_them_from_its_first_session(
        live: Live) -> None:
    """After a restart no stop order has been on the stream yet: a stream that reports stops
    (as every stream positionbot builds does) vouches for the connect cycle's listing at once;
    one not declared so, only once it has reported a stop order."""
    live.venue.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(live.trades()) == 1)
    await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("48000"))
    await live.follower.stop()

    def restarted(declared: bool) -> StreamFollower:
        """A new follower on a new stream, as a restarted process has."""
        stream = CcxtUserStream(ACCOUNT, "binanceusdm", api_key="test-key", secret="test-secret",
                                ccxt_config=ccxt_config_for(live.server.base_url),
                                timing=FAST_TIMING)
        follower = StreamFollower(live.tracker, stream, live.store,
                                  replace(live.follower.settings, stops_on_stream=declared))
        live.tracker.streams[ACCOUNT] = follower
        follower.start()
        return follower

    async def listed_by_two_polls() -> int:
        before = live.server.count("/openAlgoOrders")
        for _ in range(2):
            assert (await live.tracker.run_cycle(ACCOUNT)).ok
        return live.server.count("/openAlgoOrders") - before

    for declared, listed in ((True, 0), (False, 2)):
        follower = restarted(declared)
        try:
            await eventually(lambda f=follower: f.connected)  # type: ignore[misc]
            assert await listed_by_two_polls() == listed
            if not declared:  # until it has reported a stop order:
                await TradeCommands(live.tracker).set_stop_loss(live.trades()[0].id, D("47000"))
                await eventually(lambda f=follower: f.stop_orders_seen > 0)  # type: ignore[misc]
                await live.tracker.run_cycle(ACCOUNT)  # the stop orders changed: listed
                assert await listed_by_two_polls() == 0
        finally:
            await follower.stop()
