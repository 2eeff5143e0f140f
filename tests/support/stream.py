"""Stream tests: the follower over the in-process paper stream, and over real ccxt.pro against the
fake Binance user-data stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import PositionMode, Trade
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.engine.stream_follower import StreamFollower, StreamSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from positionbot.tracker.exchange.ccxt.stream import CcxtUserStream, StreamTiming
from positionbot.tracker.exchange.paper import PaperExchange, default_markets

D = Decimal
D_TIMEOUT = 5.0
ACCOUNT = "binance"
CHAT = 1001
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
MARKS = {BTC: D("50000"), ETH: D("3000")}
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.04, call_timeout=2.0)


async def eventually(condition: Callable[[], bool], timeout: float = D_TIMEOUT) -> None:
    """Wait until ``condition()`` holds (the stream applies changes in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


@dataclass
class Live:
    """The tracker following a fake Binance account through real ccxt (REST) and ccxt.pro."""

    venue: PaperExchange
    server: BinanceServer
    gateway: CcxtGateway
    stream: CcxtUserStream
    store: Store
    tracker: SimplePositionTracker
    follower: StreamFollower

    def trades(self) -> list[Trade]:
        return self.tracker.book.active_trades(ACCOUNT)

    async def kinds(self) -> list[str]:
        rows = await self.store.pending_notifications(datetime.now(UTC) + timedelta(days=1),
                                                      limit=10_000)
        return [r.kind for r in rows if r.kind != "startup"]

    async def notices(self) -> list[tuple[str, dict[str, str]]]:
        rows = await self.store.pending_notifications(datetime.now(UTC) + timedelta(days=1),
                                                      limit=10_000)
        return [(r.kind, r.fields if isinstance(r.fields, dict) else json.loads(r.fields))
                for r in rows if r.kind != "startup"]


FAST_TIMING = StreamTiming(keepalive=0.3, ping_interval=0.2, silence=0.6, connect_timeout=2.0,
                           call_timeout=2.0)
FAST_FOLLOW = StreamSettings(backoff_initial=0.05, backoff_max=0.2, coalesce=0.02)


async def live_env(tmp_path: Path, *, mode: PositionMode = PositionMode.ONE_WAY,
                   timing: StreamTiming = FAST_TIMING, alert_after: float = 45.0) -> Live:
    venue = PaperExchange(default_markets(), mode=mode, marks=MARKS)
    server = BinanceServer(venue)
    await server.start()
    config = ccxt_config_for(server.base_url)
    gateway = CcxtGateway(ACCOUNT, "binanceusdm", api_key="test-key", secret="test-secret",
                          ccxt_config=config, retry=FAST_RETRY)
    stream = CcxtUserStream(ACCOUNT, "binanceusdm", api_key="test-key", secret="test-secret",
                            ccxt_config=config, timing=timing)
    store = await Store.open(tmp_path / "state.db", recipients=fixed_recipients([CHAT]))
    settings = TrackerSettings(verify_delay=0.05, dust=DustPolicy(D("5")))
    tracker = SimplePositionTracker(store, {ACCOUNT: gateway}, settings)
    await tracker.start()
    follower = StreamFollower(tracker, stream, store, FAST_FOLLOW, alert_after=alert_after)
    follower.start()
    await eventually(lambda: follower.connected)
    return Live(venue, server, gateway, stream, store, tracker, follower)


async def close_live(live: Live) -> None:
    await live.follower.stop()
    await live.gateway.close()
    await live.store.close()
    await live.server.stop()


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    env = await live_env(tmp_path)
    yield env
    await close_live(env)


@pytest.fixture
async def hedge_live(tmp_path: Path) -> AsyncIterator[Live]:
    env = await live_env(tmp_path, mode=PositionMode.HEDGE)
    yield env
    await close_live(env)
