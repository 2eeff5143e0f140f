"""The ``stream`` switch, the slower verifying poll while a stream is healthy, and /status."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram.ext import JobQueue

from positionbot.bot.config import load_config
from positionbot.bot.config.errors import ConfigError
from positionbot.bot.render.listing import AccountView, StreamHealth, render_status
from positionbot.bot.scheduler import Scheduler, Timing
from positionbot.tracker.core.models import SyncState
from positionbot.tracker.engine.stream_follower import StreamFollower, StreamSettings
from positionbot.tracker.exchange.paper.stream import PaperStream
from tests.support.config import ACCOUNT, ENV, OKX, OKX_ENV, WriteConfig
from tests.support.config import write_config as write_config
from tests.support.stream import eventually
from tests.support.tracker import BTC, BUY, D, make_env

GATE = """
[[accounts]]
name = "gate"
exchange = "gate"
api_key_env = "GATE_KEY"
secret_env = "GATE_SECRET"
"""
GATE_ENV = {"GATE_KEY": "gate-key-1111", "GATE_SECRET": "gate-secret-2222"}


def test_streams_are_on_by_default_where_supported(write_config: WriteConfig) -> None:
    config = load_config(write_config(ACCOUNT + OKX + GATE), {**ENV, **OKX_ENV, **GATE_ENV})
    binance, okx, gate = config.accounts
    assert (binance.stream, binance.streams) == (None, True)
    assert (okx.stream, okx.streams) == (None, True)
    assert (gate.stream, gate.streams) == (None, False)  # polled only


def test_stream_can_be_switched_off(write_config: WriteConfig) -> None:
    config = load_config(write_config(ACCOUNT + "stream = false\n"), ENV)
    assert config.accounts[0].streams is False


def test_stream_on_where_unsupported_is_refused_naming_the_key(write_config: WriteConfig) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(GATE + "stream = true\n"), GATE_ENV)
    assert "stream" in str(caught.value) and "gate" in str(caught.value)


def test_status_shows_each_streaming_accounts_health() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    views = [
        AccountView("binance", SyncState("binance", last_success_at=now), [],
                    stream=StreamHealth(True, now - timedelta(seconds=12), 2)),
        AccountView("bybit", SyncState("bybit", last_success_at=now), [],
                    stream=StreamHealth(False, None, 0)),
        AccountView("okx", SyncState("okx", last_success_at=now), []),
    ]
    text = render_status(views, 0, "1.0", 60.0, [], now)
    assert "stream connected · last event 12s ago · 2 reconnects today" in text
    assert "stream down, polling · no event yet · 0 reconnects today" in text
    assert text.count("stream") == 2  # the polled-only account has no stream line


async def test_the_poll_slows_to_verifying_while_the_stream_is_healthy(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    stream = PaperStream(env.exchange, "paper")
    follower = StreamFollower(env.tracker, stream, env.store, StreamSettings(verify_interval=0.4))
    env.tracker.streams["paper"] = follower
    scheduler = Scheduler(JobQueue(), env.tracker, env.store, None,  # type: ignore[arg-type]
                          Timing(0.1, 60, 120), clock=env.clock)
    tick = SimpleNamespace(job=SimpleNamespace(data="paper"))

    async def cycles_after_a_tick() -> int:
        before = env.tracker.cycles_completed
        await scheduler._cycle_job(tick)  # type: ignore[arg-type]
        return env.tracker.cycles_completed - before

    try:
        assert await cycles_after_a_tick() == 1  # no stream yet: every tick polls
        assert await cycles_after_a_tick() == 1
        follower.start()
        await eventually(lambda: follower.connected)
        assert follower.poll_interval == 0.4
        assert await cycles_after_a_tick() == 0  # healthy and verified recently: skipped
        env.exchange.manual_order(BTC, BUY, D("0.010"))
        await eventually(lambda: len(env.trades()) == 1)  # the stream does not wait for a poll
        await asyncio.sleep(0.4)
        assert await cycles_after_a_tick() == 1  # verify_interval later: verified again
        assert await cycles_after_a_tick() == 0
        await scheduler.stop_streams()
        assert not follower.connected and follower.poll_interval is None
        assert await cycles_after_a_tick() == 1  # stream down: every tick polls again
        assert await env.kinds() == ["opened"]
    finally:
        await follower.stop()
        await env.store.close()
