"""The JobQueue jobs: cycles on schedule feed pushes, and the watchdog revives a stalled job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from positionbot.bot.app import scheduler_of, stop
from positionbot.bot.scheduler import Timing
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import PositionSnapshot, Side
from positionbot.tracker.exchange.paper import PaperGateway
from tests.support.telegram import BTC, PUSH_CHAT, BotEnv, make_env, open_position

FAST = Timing(interval=0.1, cycle_timeout=0.3, watchdog_after=1.0, notify_interval=0.05,
              hung_grace=0.2)


class ValvedGateway(PaperGateway):
    """The paper gateway with a valve on fetch_positions: a connection that hangs.

    ``stubborn`` makes the hang swallow cancellation, like a library that does.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.valve = asyncio.Event()
        self.valve.set()
        self.stubborn = False

    async def fetch_positions(self) -> PositionSnapshot:
        while not self.valve.is_set():
            try:
                await self.valve.wait()
            except asyncio.CancelledError:
                if not self.stubborn:
                    raise
        return await super().fetch_positions()


@pytest.fixture
async def scheduled(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await make_env(api, store, timing=FAST, gateway_type=ValvedGateway)
    yield env
    valve(env).set()
    await stop(env.app)


def valve(env: BotEnv) -> asyncio.Event:
    gateway = env.tracker.gateway("main")
    assert isinstance(gateway, ValvedGateway)
    return gateway.valve


def pushes(env: BotEnv, word: str) -> list[str]:
    return [m.text for m in env.api.messages(PUSH_CHAT) if word in m.text]


async def test_cycles_run_on_schedule_and_changes_arrive_as_pushes(scheduled: BotEnv) -> None:
    open_position(scheduled.exchange, BTC, Side.LONG, "0.01", "60000")
    await scheduled.api.wait_for(lambda: bool(pushes(scheduled, "Opened")), within=3)
    done = scheduled.tracker.cycles_completed
    await scheduled.api.wait_for(lambda: scheduled.tracker.cycles_completed >= done + 3)
    assert len(pushes(scheduled, "Opened")) == 1


async def test_watchdog_restarts_a_job_that_stopped_producing_cycles(scheduled: BotEnv) -> None:
    scheduler = scheduler_of(scheduled.app)
    scheduler.cycle_job("main").enabled = False  # the scheduler silently stops running it
    await scheduled.api.wait_for(lambda: bool(pushes(scheduled, "Watchdog")), within=4)
    [alert] = pushes(scheduled, "Watchdog")
    assert "cycle:main" in alert and "no completed cycle for" in alert
    assert scheduler.restarts == 1
    done = scheduled.tracker.cycles_completed
    await scheduled.api.wait_for(lambda: scheduled.tracker.cycles_completed >= done + 2)


async def test_a_hung_cycle_is_cancelled_and_the_job_restarted(scheduled: BotEnv) -> None:
    gateway = scheduled.tracker.gateway("main")
    assert isinstance(gateway, ValvedGateway)
    gateway.stubborn = True
    gateway.valve.clear()
    await scheduled.api.wait_for(lambda: bool(pushes(scheduled, "cycle hung for")), within=4)
    gateway.valve.set()
    done = scheduled.tracker.cycles_completed
    await scheduled.api.wait_for(lambda: scheduled.tracker.cycles_completed >= done + 2)
    assert scheduler_of(scheduled.app).restarts >= 1


async def test_a_cycle_past_its_timeout_is_cancelled_and_the_next_one_runs(
    scheduled: BotEnv, caplog: pytest.LogCaptureFixture,
) -> None:
    done = scheduled.tracker.cycles_completed
    valve(scheduled).clear()
    await scheduled.api.wait_for(lambda: "timed out" in caplog.text, within=2)
    assert "cycle main FAILED" in caplog.text and "cycle timed out after 0.3s" in caplog.text
    assert scheduled.tracker.book.sync_state("main").consecutive_failures >= 1
    valve(scheduled).set()
    await scheduled.api.wait_for(lambda: scheduled.tracker.cycles_completed >= done + 3)
    assert scheduler_of(scheduled.app).restarts == 0
