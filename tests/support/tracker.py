"""The real tracker over the paper exchange and a real SQLite file, on a hand-driven clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import OrderSide, PositionMode, Trade
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets
from tests.support.clock import HandClock

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
CHAT = 1001
D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


@dataclass
class Env:
    clock: HandClock
    exchange: PaperExchange
    gateway: PaperGateway
    store: Store
    tracker: SimplePositionTracker
    path: Path

    async def cycle(self):  # type: ignore[no-untyped-def]
        self.clock.advance(15)
        report = await self.tracker.run_cycle("paper")
        assert report.ok, report.errors
        return report

    def trades(self) -> list[Trade]:
        return self.tracker.book.active_trades("paper")

    async def notices(self) -> list[tuple[str, dict[str, str]]]:
        rows = await self.store.pending_notifications(self.clock() + timedelta(days=1), limit=10_000)
        return [(r.kind, json.loads(r.fields)) for r in rows]

    async def kinds(self) -> list[str]:
        return [k for k, _ in await self.notices() if k != "startup"]

    async def reopen(self) -> None:
        """Simulate a restart: a new store and tracker on the same file and exchange."""
        await self.store.close()
        self.store = await Store.open(self.path, clock=self.clock, recipients=fixed_recipients([CHAT]))
        self.tracker = make_tracker(self.store, self.gateway, self.clock)
        await self.tracker.start()


def make_tracker(store: Store, gateway: PaperGateway, clock: HandClock) -> SimplePositionTracker:
    settings = TrackerSettings(verify_delay=2.0, pending_timeout=timedelta(minutes=60),
                               alert_after_failures=3, dust=DustPolicy(D("5")))
    return SimplePositionTracker(store, {"paper": gateway}, settings, clock, clock.sleep,
                                 monotonic=clock.monotonic)


async def make_env(tmp_path: Path, mode: PositionMode = PositionMode.ONE_WAY) -> Env:
    clock = HandClock()
    exchange = PaperExchange(default_markets(), mode=mode, clock=clock,
                             marks={BTC: D("50000"), ETH: D("3000")})
    gateway = PaperGateway(exchange, account="paper")
    path = tmp_path / "state.db"
    store = await Store.open(path, clock=clock, recipients=fixed_recipients([CHAT]))
    tracker = make_tracker(store, gateway, clock)
    await tracker.start()
    env = Env(clock, exchange, gateway, store, tracker, path)
    await env.cycle()  # the first sync: nothing there yet
    return env


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    e = await make_env(tmp_path)
    yield e
    await e.store.close()


@pytest.fixture
async def hedge_env(tmp_path: Path) -> AsyncIterator[Env]:
    e = await make_env(tmp_path, PositionMode.HEDGE)
    yield e
    await e.store.close()
