"""Liveness: a cycle job that dies is noticed by the watchdog, restarted and alerted.

``tests/telegram/test_scheduler.py`` covers a job that stops being run and a cycle that hangs;
here the job disappears from the scheduler altogether, or every cycle dies on the way (a
library cancelling its own task). The whole-process case is in ``test_process_faults.py``.
"""

from __future__ import annotations

import asyncio
import time
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


class DyingGateway(PaperGateway):
    """While ``dying``, every positions fetch dies the way a cancelled library call does."""

    dying = False

    async def fetch_positions(self) -> PositionSnapshot:
        if self.dying:
            raise asyncio.CancelledError("the HTTP session was torn down under the request")
        return await super().fetch_positions()


@pytest.fixture
async def scheduled(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await make_env(api, store, timing=FAST, gateway_type=DyingGateway)
    yield env
    await stop(env.app)


def gateway(env: BotEnv) -> DyingGateway:
    found = env.tracker.gateway("main")
    assert isinstance(found, DyingGateway)
    return found


def alerts(env: BotEnv) -> list[str]:
    return [m.text for m in env.api.messages(PUSH_CHAT) if "Watchdog" in m.text]


async def test_a_cycle_job_removed_from_the_scheduler_is_restarted_and_alerted(
    scheduled: BotEnv,
) -> None:
    scheduler = scheduler_of(scheduled.app)
    scheduler.cycle_job("main").schedule_removal()
    await scheduled.api.wait_for(lambda: bool(alerts(scheduled)), within=4)
    [alert] = alerts(scheduled)
    assert "cycle:main" in alert and "no completed cycle for" in alert
    assert scheduler.restarts == 1

    open_position(scheduled.exchange, BTC, Side.LONG, "0.01", "60000")
    await scheduled.api.wait_for(
        lambda: any("Opened" in m.text for m in scheduled.api.messages(PUSH_CHAT)), within=4)
    assert len(alerts(scheduled)) == 1


async def test_cycles_that_keep_dying_are_alerted_and_resume_once_the_cause_is_gone(
    scheduled: BotEnv, caplog: pytest.LogCaptureFixture,
) -> None:
    done = scheduled.tracker.cycles_completed
    gateway(scheduled).dying = True
    await scheduled.api.wait_for(lambda: bool(alerts(scheduled)), within=4)
    assert scheduled.tracker.cycles_completed <= done + 1  # none completed while dying
    assert "cycle main was cancelled" in caplog.text

    gateway(scheduled).dying = False
    open_position(scheduled.exchange, BTC, Side.LONG, "0.01", "60000")
    await scheduled.api.wait_for(
        lambda: any("Opened" in m.text for m in scheduled.api.messages(PUSH_CHAT)), within=4)
    count, quiet_from = len(alerts(scheduled)), time.monotonic()
    resumed = scheduled.tracker.cycles_completed
    await scheduled.api.wait_for(
        lambda: time.monotonic() - quiet_from > 1.5 * FAST.watchdog_after, within=4)
    assert scheduled.tracker.cycles_completed >= resumed + 5
    assert len(alerts(scheduled)) == count  # healthy again: no further alerts
    assert scheduler_of(scheduled.app).restarts == count
