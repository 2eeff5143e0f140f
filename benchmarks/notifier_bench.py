"""Notifier throughput: outbox rows drained into the local Bot API fake over real HTTP.

The rows are what the real tracker queued for positions opened on the paper exchange, and
the bot is built the way ``bot.app`` builds it (python-telegram-bot with ``AIORateLimiter``),
so the figures include rendering, PTB, HTTP and the outbox updates. Telegram's published
limits: about 1 message per second to one chat, 20 per minute to a group, 30 per second in all.
A push's delay is from the moment its row was committed to the moment the message carrying it
reached the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.ext import ApplicationBuilder, ExtBot

from benchmarks.bench_env import BenchEnv
from positionbot.bot.app import telegram_rate_limiter
from positionbot.bot.config import TelegramConfig
from positionbot.bot.notifier import DeliveryPolicy, Notifier
from positionbot.fakes.botapi_server import FakeBotApi

FIRST_CHAT = 7001
FIRST_GROUP = -1001000000001  # supergroup ids are negative; AIORateLimiter paces them as groups
PUSHES_PER_CHAT = 10
TELEGRAM_OVERALL_PER_S = 30
TELEGRAM_GROUP_PER_MIN = 20
TELEGRAM_CHAT_INTERVAL_S = 1.0
DRAIN_DEADLINE_S = 600.0
NOTIFY_INTERVAL_S = 1.0  # the scheduler's drain loop (bot.scheduler.Timing.notify_interval)
GROUP_BURST_MAX = 60  # pushes in the group burst: 3 every 2 s, faster than 20 a minute
GROUP_BURST_STEP = 3
GROUP_BURST_EVERY_S = 2.0


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    name: str
    production: bool  # AIORateLimiter and the default pacing on: must respect Telegram's limits
    chats: int
    rows: int  # outbox rows queued (every one of them delivered when ``complete``)
    messages: int  # sendMessage requests that reached the server
    seconds: float
    max_overall_per_s: int  # most messages in any one-second window, all chats together
    min_chat_gap_s: float | None  # shortest gap between two messages to the same chat
    complete: bool
    max_overall_per_min: int = 0  # most messages in any 60-second window, all chats together
    max_chat_per_min: int = 0  # most messages to one chat in any 60-second window
    groups: bool = False
    worst_delay_s: float | None = None  # longest wait of one push, committed -> at the server

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    chats: int
    positions: int  # positions opened, so each chat gets this many "opened" rows (+ startup)
    production: bool  # AIORateLimiter and the default pacing; else neither, for raw capacity
    digest_threshold: int = 5
    groups: bool = False  # group chats (negative ids) instead of private ones
    arrivals: tuple[int, float] | None = None  # (positions, every s) while draining; else at once


def plans(burst_rows: int, fanout_chats: int) -> list[Plan]:
    group_burst = min(burst_rows, GROUP_BURST_MAX)
    return [
        Plan(f"burst: {burst_rows} changes, one private chat (digests)", 1, burst_rows, True),
        Plan(f"spread: {fanout_chats * PUSHES_PER_CHAT:,} pushes over {fanout_chats} private "
             "chats", fanout_chats, PUSHES_PER_CHAT, True),
        Plan(f"spread: {fanout_chats * PUSHES_PER_CHAT:,} pushes over {fanout_chats} groups",
             fanout_chats, PUSHES_PER_CHAT, True, groups=True),
        Plan(f"group burst: {group_burst} pushes into one group, {GROUP_BURST_STEP} every "
             f"{GROUP_BURST_EVERY_S:.0f} s", 1, group_burst, True, groups=True,
             arrivals=(GROUP_BURST_STEP, GROUP_BURST_EVERY_S)),
        Plan("capacity: 20 chats x 10, no pacing, no limiter, no digests", 20, 10, False,
             digest_threshold=1_000_000),
    ]


@asynccontextmanager
async def _bot(api: FakeBotApi, production: bool) -> AsyncIterator[ExtBot[Any]]:
    """The bot as ``bot.app`` builds it (pool, timeouts, limiter), pointed at the fake."""
    builder = (ApplicationBuilder().token(api.token).base_url(api.base_url)
               .connect_timeout(10).read_timeout(15).write_timeout(15).pool_timeout(5))
    bot: ExtBot[Any] = (builder.rate_limiter(telegram_rate_limiter()).build().bot
                        if production else builder.build().bot)
    async with bot:
        yield bot


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _max_chat_in_window(sends: list[tuple[int, float]], window: float) -> int:
    by_chat: dict[int, list[float]] = {}
    for chat, t in sends:
        by_chat.setdefault(chat, []).append(t)
    return max((_max_in_window(times, window) for times in by_chat.values()), default=0)


def _min_chat_gap(sends: list[tuple[int, float]]) -> float | None:
    last: dict[int, float] = {}
    gaps = []
    for chat, t in sends:
        if chat in last:
            gaps.append(t - last[chat])
        last[chat] = t
    return min(gaps) if gaps else None


async def _arrive(env: BenchEnv, plan: Plan, queued: list[tuple[int, float]]) -> None:
    """Open the plan's positions a few at a time, as a busy account would; note when each
    cycle's rows were committed (the highest row id so far, and the time)."""
    assert plan.arrivals is not None
    step, every = plan.arrivals
    for start in range(0, plan.positions, step):
        began = time.monotonic()
        env.trade_by_hand(range(start, min(start + step, plan.positions)))
        await env.cycle()
        queued.append((await _last_row_id(env), time.monotonic()))
        await asyncio.sleep(max(0.0, every - (time.monotonic() - began)))


async def _last_row_id(env: BenchEnv) -> int:
    rows = await env.store.read_rows("SELECT COALESCE(MAX(id), 0) FROM notifications", ())
    return int(rows[0][0])


async def _worst_delay(env: BenchEnv, api: FakeBotApi, chats: list[int],
                       queued: list[tuple[int, float]]) -> float | None:
    """The longest time from a row's commit to the server's receipt of its message."""
    at: dict[tuple[int, int], float] = {}
    for chat in chats:
        times = [t for (method, params), t in zip(api.calls, api.call_times, strict=True)
                 if method == "sendMessage" and int(params["chat_id"]) == chat]
        at.update({(chat, m.message_id): t
                   for m, t in zip(api.messages(chat), times, strict=False)})
    worst: float | None = None
    for row_id, chat, message_id in await env.store.read_rows(
            "SELECT id, chat_id, message_id FROM notifications WHERE message_id IS NOT NULL", ()):
        committed = next(t for last, t in queued if row_id <= last)
        delay = at[(chat, message_id)] - committed
        worst = delay if worst is None else max(worst, delay)
    return worst


async def _run(plan: Plan, workdir: Path) -> DeliveryRun:
    chats = [(FIRST_GROUP - i) if plan.groups else (FIRST_CHAT + i) for i in range(plan.chats)]
    env = await BenchEnv.open(workdir / f"outbox-{plan.name[:5]}-{plan.chats}-{plan.positions}"
                                        f"-{plan.groups}.db", plan.positions, chats=chats)
    try:
        await env.cycle()
        queued: list[tuple[int, float]] = []
        if plan.arrivals is None:
            env.trade_by_hand(range(plan.positions))
            await env.cycle()
        rows = await env.store.outbox_backlog()
        telegram = TelegramConfig.model_validate({
            "allowed_chats": chats, "notify_chats": chats,
            "digest_threshold": plan.digest_threshold})
        policy = DeliveryPolicy() if plan.production else DeliveryPolicy(chat_interval=0.0)
        async with FakeBotApi() as api, _bot(api, plan.production) as bot:
            notifier = Notifier(bot, env.store, telegram, clock=env.clock, policy=policy)
            t0 = time.monotonic()
            queued.append((await _last_row_id(env), t0))
            arriving = (asyncio.create_task(_arrive(env, plan, queued))
                        if plan.arrivals is not None else None)
            backlog = rows
            while time.monotonic() - t0 < DRAIN_DEADLINE_S:
                began = time.monotonic()
                all_in = arriving is None or arriving.done()
                await notifier.drain()
                backlog = await env.store.outbox_backlog()
                if all_in and not backlog:
                    break
                # At once: drain back to back. Arriving: the scheduler's loop, once a second.
                pause = 0.0 if arriving is None else NOTIFY_INTERVAL_S - (time.monotonic() - began)
                await asyncio.sleep(max(0.0, pause))
            if arriving is not None:
                await arriving
                rows = await _last_row_id(env)
            seconds = time.monotonic() - t0
            sends = [(int(params["chat_id"]), at)
                     for (method, params), at in zip(api.calls, api.call_times, strict=True)
                     if method == "sendMessage"]
            worst = await _worst_delay(env, api, chats, queued)
    finally:
        await env.close()
    times = [t for _, t in sends]
    return DeliveryRun(plan.name, plan.production, plan.chats, rows, len(sends), seconds,
                       _max_in_window(times), _min_chat_gap(sends), backlog == 0,
                       _max_in_window(times, 60.0), _max_chat_in_window(sends, 60.0), plan.groups,
                       worst)


async def notifier_throughput(burst_rows: int, fanout_chats: int, workdir: Path
                              ) -> list[DeliveryRun]:
    return [await _run(plan, workdir) for plan in plans(burst_rows, fanout_chats)]
