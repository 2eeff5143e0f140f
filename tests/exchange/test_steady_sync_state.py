"""A steady cycle keeps the sync state fresh in the book every cycle and writes it to the
database at most every ``SYNC_STATE_EVERY``; anything but its time moving is written at once.

On the Binance fast path through real ccxt, where a settled book takes the steady path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import BinanceServer
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide, SyncState
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.engine.settled import SYNC_STATE_EVERY
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.clock import HandClock
from tests.support.exchange import BTC, D

ACCOUNT = "acc-1"


class Bot:
    def __init__(self, path: Path, gateway: CcxtGateway) -> None:
        self.path, self.gateway, self.clock = path, gateway, HandClock()

    async def open(self) -> None:
        self.store = await Store.open(self.path, clock=self.clock)
        self.tracker = SimplePositionTracker(self.store, {ACCOUNT: self.gateway},
                                             TrackerSettings(verify_delay=0), self.clock,
                                             self.clock.sleep, monotonic=self.clock.monotonic)
        await self.tracker.start(announce=False)

    async def cycle(self) -> CycleReport:
        self.clock.advance(15)
        return await self.tracker.run_cycle(ACCOUNT)

    async def stored(self) -> SyncState:
        return await self.store.get_sync_state(ACCOUNT)


@pytest.fixture
async def bot(tmp_path: Path, venue: PaperExchange, server: BinanceServer,
              gateway: CcxtGateway) -> AsyncIterator[Bot]:
    venue.manual_order(BTC, OrderSide.BUY, D("0.013"))
    bot = Bot(tmp_path / "state.db", gateway)
    await bot.open()
    for _ in range(2):  # the first sync, then a quiet cycle: the book is settled
        assert (await bot.cycle()).ok
    yield bot
    await bot.store.close()


async def test_steady_cycles_refresh_the_book_and_write_the_time_at_most_every_interval(
        bot: Bot) -> None:
    assert timedelta(seconds=30) == SYNC_STATE_EVERY  # two 15 s cycles
    written = []
    for _ in range(6):
        report = await bot.cycle()
        assert report.ok and report.changes == ()
        assert bot.tracker.book.sync_state(ACCOUNT).last_success_at == report.started_at
        stored = (await bot.stored()).last_success_at
        assert stored is not None and report.started_at - stored < SYNC_STATE_EVERY
        written.append(stored == report.started_at)
    assert written == [True, False] * 3  # the first steady cycle writes, then every 30 s

    await bot.store.close()  # a restart reads what was written: at most the interval old
    await bot.open()
    restored = bot.tracker.book.sync_state(ACCOUNT).last_success_at
    assert restored is not None and bot.clock() - restored < SYNC_STATE_EVERY


async def test_a_failure_between_steady_cycles_is_written_at_once_and_so_is_the_recovery(
        bot: Bot, server: BinanceServer) -> None:
    await bot.cycle()
    server.faults.inject(Fault.auth_error("/positionRisk"))
    failed = await bot.cycle()
    assert not failed.ok and (await bot.stored()).consecutive_failures == 1
    report = await bot.cycle()
    stored = await bot.stored()
    assert report.ok and stored.consecutive_failures == 0
    assert stored.last_success_at == report.started_at
