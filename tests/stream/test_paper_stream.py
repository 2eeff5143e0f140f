"""The follower over the paper venue's in-process stream: changes applied from the stream alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from positionbot.tracker.core.models import Side, TradeStatus
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.stream_follower import StreamFollower, StreamSettings
from positionbot.tracker.exchange.paper.stream import PaperStream
from tests.support.stream import eventually
from tests.support.tracker import BTC, BUY, SELL, D, Env, make_env


@pytest.fixture
async def followed(tmp_path: Path) -> AsyncIterator[tuple[Env, StreamFollower, PaperStream]]:
    env = await make_env(tmp_path)
    stream = PaperStream(env.exchange, "paper")
    follower = StreamFollower(env.tracker, stream, env.store, StreamSettings(coalesce=0.005))
    follower.start()
    await eventually(lambda: follower.connected)
    yield env, follower, stream
    await follower.stop()
    await env.store.close()


async def test_open_and_close_are_applied_from_the_stream_without_a_cycle(
        followed: tuple[Env, StreamFollower, PaperStream]) -> None:
    env, _, _ = followed
    cycles = env.tracker.cycles_completed
    calls = env.gateway.calls
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(env.trades()) == 1)
    (trade,) = env.trades()
    assert (trade.size, trade.avg_entry_price) == (D("0.010"), D("50000"))
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    await eventually(lambda: env.trades() == [])
    assert env.tracker.cycles_completed == cycles  # no REST cycle was needed
    assert env.gateway.calls == calls  # not even a fill look-up: the stream priced it
    (closed,) = await env.store.list_trades("paper")
    assert closed.status is TradeStatus.CLOSED
    assert closed.realized_pnl == env.exchange.realized_pnl() - env.exchange.fees_paid()
    assert await env.kinds() == ["opened", "closed"]
    await env.cycle()  # the verifying poll finds nothing left to change
    assert await env.kinds() == ["opened", "closed"]


async def test_stop_hit_from_the_stream(followed: tuple[Env, StreamFollower, PaperStream]) -> None:
    env, _, _ = followed
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await eventually(lambda: len(env.trades()) == 1)
    tid = env.trades()[0].id
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    env.exchange.set_mark(BTC, D("47990"))
    await eventually(lambda: env.trades() == [])
    (closed,) = await env.store.list_trades("paper")
    assert closed.close_reason == "stop_loss"
    kinds = await env.kinds()
    assert kinds.count("stop_loss_hit") == 1 and "closed" not in kinds


async def test_a_dropped_stream_reconnects_and_a_rest_cycle_recovers_the_gap(
        followed: tuple[Env, StreamFollower, PaperStream]) -> None:
    env, follower, stream = followed
    cycles = env.tracker.cycles_completed
    stream.drop()
    env.exchange.manual_order(BTC, BUY, D("0.010"))  # happens while the stream is down
    await eventually(lambda: follower.reconnects_today == 1 and follower.connected)
    assert env.tracker.cycles_completed == cycles + 1  # the reconnect's REST cycle
    (trade,) = env.trades()
    assert trade.size == D("0.010")
    assert await env.kinds() == ["opened"]
    report = await env.cycle()
    assert [c.kind for c in report.changes] == []
    env.exchange.manual_order(BTC, BUY, D("0.005"))
    await eventually(lambda: env.trades()[0].size == D("0.015"))
    assert await env.kinds() == ["opened", "increased"]


async def test_a_pending_entry_cancelled_by_hand_is_reported_at_once_from_the_stream(
        followed: tuple[Env, StreamFollower, PaperStream]) -> None:
    env, follower, _ = followed
    kicks: list[None] = []
    follower.on_change = lambda: kicks.append(None)
    commands = TradeCommands(env.tracker)
    preview = await commands.preview_entry("paper", BTC, Side.LONG, D("0.010"), D("49000"),
                                           D("48000"), None)
    pending = await commands.open_entry(preview)
    cycles = env.tracker.cycles_completed
    env.exchange.manual_cancel(pending.entry_order_id or "")
    await eventually(lambda: env.trades() == [])
    assert env.tracker.cycles_completed == cycles + 1  # run by the stream, not the poll
    (cancelled,) = await env.store.list_trades("paper")
    assert cancelled.status is TradeStatus.CANCELLED
    assert cancelled.close_reason == "entry order cancelled on the exchange"
    assert await env.kinds() == ["pending_cancelled"]
    assert kicks == [None]  # the notifier is told at once
