"""Issue 11, items 11 and 12: the outbox keeps delivering through wall-clock steps and through a
group's upgrade to a supergroup (real PTB against the fake Bot API, a real SQLite outbox)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot

from positionbot.bot.app import notifier_of, scheduler_of, stop
from positionbot.bot.config import NotifyMode
from positionbot.bot.notifier import DeliveryPolicy, Notifier, notice_recipients
from positionbot.bot.scheduler import Timing
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import Side
from positionbot.tracker.core.notices import Watchdog
from positionbot.tracker.core.records import WriteBatch
from tests.support.telegram import (
    BTC,
    PUSH_CHAT,
    BotEnv,
    make_env,
    open_position,
    telegram_config,
)

GROUP, SUPERGROUP = -4001, -1004001
POLICY = DeliveryPolicy(chat_interval=0.0, backoff_base=0.05, backoff_cap=0.2, send_timeout=5.0)


class SteppedClock:
    """The wall clock, which an operator or NTP may step by ``offset``."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


async def push(store: Store, tag: str) -> None:
    notice = Watchdog(account="main", dedupe_key=f"test/{tag}", job=f"cycle:{tag}",
                      detail="test")
    await store.commit(WriteBatch("main", notices=[notice]))


@pytest.fixture
async def wall() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
async def stepped_store(tmp_path: Path, wall: SteppedClock) -> AsyncIterator[Store]:
    store = await Store.open(tmp_path / "bot.db", clock=wall)
    yield store
    await store.close()


@pytest.mark.parametrize("fault", ["network", "flood"])
async def test_a_clock_stepped_back_an_hour_does_not_hold_pushes(
    api: FakeBotApi, ptb_bot: Bot, stepped_store: Store, wall: SteppedClock, fault: str,
) -> None:
    telegram = telegram_config(notify_chats=[GROUP])
    stepped_store.recipients = notice_recipients(telegram)
    notifier = Notifier(ptb_bot, stepped_store, telegram, clock=wall, policy=POLICY)
    await push(stepped_store, "a")
    if fault == "network":
        api.fail_next("sendMessage", 502, "Bad Gateway")
    else:
        api.flood("sendMessage", retry_after=1)
    assert (await notifier.drain()).retried == 1
    wall.offset = -timedelta(hours=1)  # NTP steps the clock back
    await push(stepped_store, "b")
    await asyncio.sleep(1.1 if fault == "flood" else 0.1)
    stats = await notifier.drain()
    assert stats.sent == 2, "a wall-clock step held the chat's pushes back"
    assert await stepped_store.outbox_backlog() == 0


async def test_a_clock_stepped_forward_does_not_release_a_back_off_early(
    api: FakeBotApi, ptb_bot: Bot, stepped_store: Store, wall: SteppedClock,
) -> None:
    telegram = telegram_config(notify_chats=[GROUP])
    stepped_store.recipients = notice_recipients(telegram)
    notifier = Notifier(ptb_bot, stepped_store, telegram, clock=wall, policy=POLICY)
    await push(stepped_store, "a")
    api.flood("sendMessage", retry_after=30)
    await notifier.drain()
    wall.offset = timedelta(hours=1)
    assert (await notifier.drain()).messages == 0  # Telegram said 30 s; 30 s it is
    assert len(api.calls_of("sendMessage")) == 1


def watchdogs(api: FakeBotApi, chat: int) -> list[str]:
    return [m.text for m in api.messages(chat) if "Watchdog" in m.text]


@pytest.fixture
async def group_env(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    telegram = telegram_config(allowed_chats=[GROUP], notify_chats=[GROUP],
                               chats={str(GROUP): {"quiet_below_notional": "5"}})
    env = await make_env(api, store, telegram=telegram)
    yield env
    await stop(env.app)


async def test_a_group_upgraded_to_a_supergroup_keeps_its_pushes_and_commands(
    group_env: BotEnv, caplog: pytest.LogCaptureFixture,
) -> None:
    api, store = group_env.api, group_env.store
    preferences = notifier_of(group_env.app).preferences
    await preferences.set_mode(GROUP, "watchdog", NotifyMode.SILENT)  # chosen with /settings
    api.upgrade_to_supergroup(GROUP, SUPERGROUP)
    await push(store, "first")
    await push(store, "second")
    await api.wait_for(lambda: len(watchdogs(api, SUPERGROUP)) == 2)
    assert ["cycle:first" in text for text in watchdogs(api, SUPERGROUP)] == [True, False]
    assert f"Replace {GROUP} with {SUPERGROUP}" in caplog.text
    assert preferences.mode_for(SUPERGROUP, "watchdog") is NotifyMode.SILENT
    assert preferences.quiet_below(SUPERGROUP) == 5
    sends = [c for c in api.calls_of("sendMessage")
             if c["chat_id"] == str(SUPERGROUP) and "Watchdog" in c["text"]]
    assert len(sends) == 2 and all(c.get("disable_notification") is True for c in sends)
    # commands from the new id are accepted
    reply = await group_env.command("/help", chat=SUPERGROUP)
    assert "PositionBot" in reply.text


@pytest.fixture
async def ticking(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await make_env(api, store, timing=Timing(interval=0.2, cycle_timeout=5,
                                                   watchdog_after=4000, notify_interval=0.05))
    yield env
    await stop(env.app)


async def test_cycles_and_pushes_carry_on_when_the_wall_clock_steps_back(
    ticking: BotEnv, caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = scheduler_of(ticking.app)
    wall = SteppedClock()
    scheduler.wall_clock = wall
    await asyncio.sleep(0.3)  # the watchdog notes where the clocks stand
    # What a step back does to APScheduler: the next run is an hour away on its wall clock.
    job = scheduler.cycle_job("main").job
    job.modify(next_run_time=job.next_run_time + timedelta(hours=1))
    wall.offset = -timedelta(hours=1)
    done = ticking.tracker.cycles_completed
    await ticking.api.wait_for(lambda: ticking.tracker.cycles_completed >= done + 3, within=5)
    assert "the wall clock stepped by -3600s" in caplog.text
    open_position(ticking.exchange, BTC, Side.LONG, "0.01", "60000")
    await ticking.api.wait_for(
        lambda: any("Opened" in m.text for m in ticking.api.messages(PUSH_CHAT)), within=5)
    assert scheduler.restarts == 0  # no watchdog alert: a clock step is not a stall
