"""A tracker over the paper venue whose cycles take no clock time, so every event is dated at
the very instant of the fill or funding payment that caused it (period sums can then be
compared with the venue's income ledger exactly)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.funding import FundingSettings
from positionbot.tracker.core.models import PositionMode
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets
from tests.support.tracker import BTC, ETH, HandClock

CHAT = 1001
D = Decimal


@dataclass
class PnlEnv:
    clock: HandClock
    exchange: PaperExchange
    gateway: PaperGateway
    store: Store
    tracker: SimplePositionTracker

    async def cycle(self) -> None:
        report = await self.tracker.run_cycle("paper")
        assert report.ok, report.errors


async def make_pnl_env(tmp_path: Path, start: datetime | None = None,
                       mode: PositionMode = PositionMode.ONE_WAY) -> PnlEnv:
    clock = HandClock()
    clock.now = start or datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    exchange = PaperExchange(default_markets(), mode=mode, clock=clock,
                             marks={BTC: D("50000"), ETH: D("3000")}, leverage=D(10))
    gateway = PaperGateway(exchange, account="paper")
    store = await Store.open(tmp_path / "pnl.db", clock=clock, recipients=fixed_recipients([CHAT]))
    settings = TrackerSettings(verify_delay=0.0,
                               funding=FundingSettings(interval=timedelta(0)))

    async def no_sleep(seconds: float) -> None:
        return None

    tracker = SimplePositionTracker(store, {"paper": gateway}, settings, clock, no_sleep)
    await tracker.start(announce=False)
    env = PnlEnv(clock, exchange, gateway, store, tracker)
    await env.cycle()  # the first sync: the fill epoch starts here
    return env


@pytest.fixture
async def pnl_env(tmp_path: Path) -> AsyncIterator[PnlEnv]:
    env = await make_pnl_env(tmp_path)
    yield env
    await env.store.close()
