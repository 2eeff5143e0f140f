"""A pending bot entry that fills while a cycle is between its positions snapshot and its look
at the pending entries is opened (and protected), never cancelled as a ghost.

The cycle reads the positions first and the entry order later: an order filled in between is
filled, yet the snapshot shows no position. Cancelling the trade then (as "filled but the
position was closed before it was seen") lost its stop loss: the position was adopted as a
manual one on the next look. This is the race that once cost the demo its SOL "stop loss
placed" push under load.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from positionbot.tracker.core.models import PositionSnapshot, Side, Source, TradeStatus
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.stream_follower import StreamFollower, StreamSettings
from positionbot.tracker.exchange.paper import PaperGateway
from positionbot.tracker.exchange.paper.stream import PaperStream
from tests.support.stream import eventually
from tests.support.tracker import BTC, SELL, D, Env, make_env, make_tracker

DOGE = "DOGE/USDT:USDT"


class FillsAfterTheSnapshot(PaperGateway):
    """The paper gateway, with something happening on the venue right after one positions
    snapshot was taken (as the market does while a cycle is under way)."""

    then: Callable[[], object] | None = None

    async def fetch_positions(self) -> PositionSnapshot:
        snapshot = await super().fetch_positions()
        act, self.then = self.then, None
        if act is not None:
            act()
        return snapshot


async def _racing_env(tmp_path: Path) -> tuple[Env, FillsAfterTheSnapshot]:
    env = await make_env(tmp_path)
    gateway = FillsAfterTheSnapshot(env.exchange, "paper")
    env.gateway = gateway
    env.tracker = make_tracker(env.store, gateway, env.clock)
    await env.tracker.start()
    await env.cycle()
    return env, gateway


async def _pending_long(env: Env) -> int:
    commands = TradeCommands(env.tracker)
    preview = await commands.preview_entry("paper", BTC, Side.LONG, D("0.010"), D("49500"),
                                           D("48000"), None)
    return (await commands.open_entry(preview)).id


async def test_polling_opens_the_entry_that_filled_after_the_snapshot(tmp_path: Path) -> None:
    env, gateway = await _racing_env(tmp_path)
    trade_id = await _pending_long(env)
    gateway.then = lambda: env.exchange.set_mark(BTC, D("49400"))  # the limit fills
    await env.cycle()  # saw no position, then found the entry order filled
    (pending,) = env.trades()
    assert (pending.id, pending.status) == (trade_id, TradeStatus.PENDING)
    await env.cycle()
    (trade,) = env.trades()
    assert (trade.id, trade.status, trade.source) == (trade_id, TradeStatus.OPEN, Source.BOT)
    assert trade.stop_loss_order_id is not None
    assert await env.kinds() == ["opened", "stop_loss_placed"]
    await env.store.close()


async def test_the_stream_opens_the_entry_that_filled_during_a_cycle(tmp_path: Path) -> None:
    env, gateway = await _racing_env(tmp_path)
    follower = StreamFollower(env.tracker, PaperStream(env.exchange, "paper"), env.store,
                              StreamSettings(coalesce=0.005))
    follower.start()
    try:
        await eventually(lambda: follower.connected)
        trade_id = await _pending_long(env)
        gateway.then = lambda: env.exchange.set_mark(BTC, D("49400"))
        await env.cycle()  # the stream's report waits for this cycle, then opens the trade
        await eventually(lambda: [t.status for t in env.trades()] == [TradeStatus.OPEN])
        (trade,) = env.trades()
        assert (trade.id, trade.source) == (trade_id, Source.BOT)
        await eventually(lambda: env.trades()[0].stop_loss_order_id is not None)
        assert await env.kinds() == ["opened", "stop_loss_placed"]
    finally:
        await follower.stop()
        await env.store.close()


async def test_an_entry_filled_and_closed_before_any_look_is_still_cancelled(
        tmp_path: Path) -> None:
    env, _ = await _racing_env(tmp_path)
    await _pending_long(env)
    env.exchange.set_mark(BTC, D("49400"))  # the limit fills...
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)  # ...and is closed by hand
    await env.cycle()
    assert env.trades() == []
    (cancelled,) = await env.store.list_trades("paper")
    assert cancelled.status is TradeStatus.CANCELLED
    assert cancelled.close_reason == ("entry order filled but the position was closed before "
                                      "it was seen")
    await env.store.close()


async def test_a_filled_entry_whose_position_is_dust_waits_no_longer_than_the_timeout(
        tmp_path: Path) -> None:
    env, _ = await _racing_env(tmp_path)
    env.exchange.set_mark(DOGE, D("0.16"))
    commands = TradeCommands(env.tracker)
    await commands.open_entry(await commands.preview_entry(
        "paper", DOGE, Side.LONG, D("40"), D("0.15"), None, None))
    env.exchange.set_mark(DOGE, D("0.149"))  # fills 40 DOGE at 0.15...
    env.exchange.set_mark(DOGE, D("0.10"))  # ...now worth 4 USDT: dust, which the cycle skips
    await env.cycle()
    assert [t.status for t in env.trades()] == [TradeStatus.PENDING]  # might be a race yet
    env.clock.advance(61 * 60)  # past the pending timeout (60 min)
    await env.reopen()
    await env.cycle()
    assert env.trades() == []
    (cancelled,) = await env.store.list_trades("paper")
    assert cancelled.close_reason == ("entry order filled but the position was closed before "
                                      "it was seen")
    await env.store.close()
