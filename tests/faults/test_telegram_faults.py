"""Telegram faults while the whole application runs its cycles on schedule.

Whatever Telegram does — vanish, answer every send with 429, or refuse one chat for good —
the cycles keep their schedule and keep recording changes; once Telegram is back every push
arrives exactly once, in order; a blocked chat is given up without retries and without
holding back the other chat.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from itertools import pairwise

import pytest

from positionbot.bot.app import stop
from positionbot.bot.scheduler import Timing
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide
from tests.support.telegram import BTC, ETH, PUSH_CHAT, BotEnv, make_env, telegram_config

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

INTERVAL = 0.05
TIMING = Timing(interval=INTERVAL, cycle_timeout=2, watchdog_after=30, notify_interval=0.05)
BLOCKED = 7373
D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
EXPECTED = ["Opened · BTC", "Increased · BTC", "Opened · ETH", "Decreased · ETH", "Closed · BTC"]


async def running(api: FakeBotApi, store: Store, chats: list[int]) -> BotEnv:
    telegram = telegram_config(notify_chats=chats, digest_threshold=50)
    env = await make_env(api, store, telegram=telegram, timing=TIMING)
    await api.wait_for(lambda: any("started" in m.text for m in api.messages(PUSH_CHAT)))
    return env


@pytest.fixture
async def live(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await running(api, store, [PUSH_CHAT])
    yield env
    await stop(env.app)


@pytest.fixture
async def two_chats(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await running(api, store, [PUSH_CHAT, BLOCKED])
    yield env
    await stop(env.app)


def headlines(env: BotEnv, chat: int = PUSH_CHAT) -> list[str]:
    """'Opened · BTC' for each push but the startup summary, in delivery order."""
    out = []
    for message in env.api.messages(chat):
        head = message.text.split("\n")[0]
        if "started" not in head:
            title, _, subject = head.partition(" · ")
            out.append(f"{title.split('<b>')[1].split('</b>')[0]} · "
                       f"{subject.split('<b>')[1].split('/')[0]}")
    return out


def outbox_statuses(env: BotEnv, chat: int) -> list[str]:
    with sqlite3.connect(env.store.path) as db:
        return [str(s) for (s,) in db.execute(
            "SELECT status FROM notifications WHERE chat_id = ? AND kind != 'startup' "
            "ORDER BY id", (chat,))]


async def trade_five_changes(env: BotEnv) -> None:
    """Five changes, each waited for until a cycle recorded it."""
    trades = env.tracker.book.active_trades
    steps: list[tuple[Callable[[], object], Callable[[], bool]]] = [
        (lambda: env.exchange.manual_order(BTC, BUY, D("0.010")), lambda: len(trades()) == 1),
        (lambda: env.exchange.manual_order(BTC, BUY, D("0.010")),
         lambda: trades()[0].size == D("0.020")),
        (lambda: env.exchange.manual_order(ETH, BUY, D("0.500")), lambda: len(trades()) == 2),
        (lambda: env.exchange.manual_order(ETH, SELL, D("0.200"), reduce_only=True),
         lambda: trades()[1].size == D("0.300")),
        (lambda: env.exchange.manual_order(BTC, SELL, D("0.020"), reduce_only=True),
         lambda: [t.symbol for t in trades()] == [ETH]),
    ]
    for act, recorded in steps:
        act()
        await env.api.wait_for(recorded, within=5)


async def test_an_outage_holds_pushes_but_not_cycles_then_delivers_all_in_order(
    live: BotEnv,
) -> None:
    await live.api.start_outage("refuse", polling=True)
    started, done = time.monotonic(), live.tracker.cycles_completed
    await trade_five_changes(live)
    await asyncio.sleep(max(0.0, started + 1.0 - time.monotonic()))  # a while longer
    cycles = live.tracker.cycles_completed - done
    elapsed = time.monotonic() - started
    assert cycles >= elapsed / INTERVAL / 3, (cycles, elapsed)  # the schedule held
    assert headlines(live) == [] and outbox_statuses(live, PUSH_CHAT) == ["pending"] * 5

    await live.api.end_outage()
    await live.api.wait_for(lambda: len(headlines(live)) >= 5, within=10)

    await live.api.wait_for(lambda: outbox_statuses(live, PUSH_CHAT) == ["sent"] * 5)
    assert headlines(live) == EXPECTED
    assert "/positions" in (await live.command("/help")).text  # commands came back too


async def test_a_429_storm_is_waited_out_while_cycles_go_on(live: BotEnv) -> None:
    live.api.flood("sendMessage", retry_after=1, times=3)
    started, done = time.monotonic(), live.tracker.cycles_completed
    await trade_five_changes(live)
    await live.api.wait_for(lambda: outbox_statuses(live, PUSH_CHAT) == ["sent"] * 5, within=10)
    elapsed = time.monotonic() - started
    cycles = live.tracker.cycles_completed - done

    assert headlines(live) == EXPECTED
    sends = [t for (method, params), t in zip(live.api.calls, live.api.call_times, strict=True)
             if method == "sendMessage" and str(params.get("chat_id")) == str(PUSH_CHAT)
             and t >= started]
    assert len(sends) == 5 + 3  # three refused, then each push once
    assert all(later - earlier >= 0.95 for earlier, later in pairwise(sends[:4]))  # waited out
    assert elapsed >= 3 and cycles >= elapsed / INTERVAL / 3, (cycles, elapsed)


async def test_a_blocked_chat_is_given_up_without_holding_back_the_other(two_chats: BotEnv) -> None:
    two_chats.api.block_chat(BLOCKED)
    done = two_chats.tracker.cycles_completed
    await trade_five_changes(two_chats)
    await two_chats.api.wait_for(lambda: len(headlines(two_chats)) >= 5, within=10)
    await two_chats.api.wait_for(lambda: "pending" not in outbox_statuses(two_chats, BLOCKED))
    attempts = len([p for p in two_chats.api.calls_of("sendMessage")
                    if str(p.get("chat_id")) == str(BLOCKED)])
    await two_chats.api.wait_for(lambda: two_chats.tracker.cycles_completed >= done + 40, within=10)

    assert headlines(two_chats) == EXPECTED
    assert outbox_statuses(two_chats, BLOCKED) == ["failed"] * 5
    assert 1 <= attempts <= 5  # at most one per drain that found new rows for it
    assert len([p for p in two_chats.api.calls_of("sendMessage")
                if str(p.get("chat_id")) == str(BLOCKED)]) == attempts  # never retried
    with sqlite3.connect(two_chats.store.path) as db:
        errors = {e for (e,) in db.execute(
            "SELECT error FROM notifications WHERE chat_id = ? AND kind != 'startup'",
            (BLOCKED,))}
    assert errors == {"Forbidden: bot was blocked by the user"}
