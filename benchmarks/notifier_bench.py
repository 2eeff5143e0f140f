"""Notifier throughput: outbox rows drained into the local Bot API fake over real HTTP.

The rows are what the real tracker queued for positions opened on the paper exchange, and
the bot is built the way ``bot.app`` builds it (python-telegram-bot with ``AIORateLimiter``),
so the figures include rendering, PTB, HTTP and the outbox updates. Telegram's published
limits: about 1 message per second to one chat, 20 per minute to a group, 30 per second in all.
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


def plans(burst_rows: int, fanout_chats: int) -> list[Plan]:
    return [
        Plan(f"burst: {burst_rows} changes, one private chat (digests)", 1, burst_rows, True),
        Plan(f"spread: {fanout_chats * PUSHES_PER_CHAT:,} pushes over {fanout_chats} private "
             "chats", fanout_chats, PUSHES_PER_CHAT, True),
        Plan(f"spread: {fanout_chats * PUSHES_PER_CHAT:,} pushes over {fanout_chats} groups",
             fanout_chats, PUSHES_PER_CHAT, True, groups=True),
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


async def _run(plan: Plan, workdir: Path) -> DeliveryRun:
    chats = [(FIRST_GROUP - i) if plan.groups else (FIRST_CHAT + i) for i in range(plan.chats)]
    env = await BenchEnv.open(workdir / f"outbox-{plan.chats}-{plan.positions}-{plan.groups}.db",
                              plan.positions, chats=chats)
    try:
        await env.cycle()
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
            backlog = rows
            while backlog and time.monotonic() - t0 < DRAIN_DEADLINE_S:
                await notifier.drain()
                backlog = await env.store.outbox_backlog()
                await asyncio.sleep(0)
            seconds = time.monotonic() - t0
            sends = [(int(params["chat_id"]), at)
                     for (method, params), at in zip(api.calls, api.call_times, strict=True)
                     if method == "sendMessage"]
    finally:
        await env.close()
    times = [t for _, t in sends]
    return DeliveryRun(plan.name, plan.production, plan.chats, rows, len(sends), seconds,
                       _max_in_window(times), _min_chat_gap(sends), backlog == 0,
                       _max_in_window(times, 60.0), _max_chat_in_window(sends, 60.0), plan.groups)


async def notifier_throughput(burst_rows: int, fanout_chats: int, workdir: Path
                              ) -> list[DeliveryRun]:
    return [await _run(plan, workdir) for plan in plans(burst_rows, fanout_chats)]
