"""The daily report: scheduled at the configured local time, queued as its own push kind,
delivered (or silenced, or dropped) per chat like every other push."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from positionbot.bot.app import stop
from positionbot.bot.daily_report import daily_report
from positionbot.fakes.botapi_rules import SentMessage, html_visible_text
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.reports import Scope, closed_trades, pnl_events
from positionbot.storage.store import Store
from positionbot.tracker.core.funding import FundingSettings
from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.core.pnl import parse_period, summarize
from positionbot.tracker.engine.funding_sync import FundingSync
from tests.support.telegram import BTC, ETH, PUSH_CHAT, BotEnv, make_env, telegram_config

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def env(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[BotEnv]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    async with FakeBotApi() as api:
        store = await Store.open(tmp_path / "bot.db")
        telegram = telegram_config(timezone="Europe/Berlin", daily_report="21:00", **overrides)
        bot_env = await make_env(api, store, telegram=telegram)
        bot_env.tracker.funding = FundingSync(FundingSettings(interval=timedelta(0)))
        try:
            yield bot_env
        finally:
            await stop(bot_env.app)
            await store.close()


async def trade(env: BotEnv) -> None:
    ex = env.exchange
    ex.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await env.cycle()
    ex.apply_funding(BTC, D("0.0001"))
    ex.set_mark(BTC, D("60500"))
    ex.manual_order(BTC, OrderSide.SELL, D("0.010"), reduce_only=True)
    await env.cycle()
    ex.manual_order(ETH, OrderSide.SELL, D("0.50"))
    ex.set_mark(ETH, D("2990"))
    await env.cycle()


async def daily_push(env: BotEnv) -> SentMessage:
    def pushed() -> list[SentMessage]:
        return [m for m in env.api.messages(PUSH_CHAT) if "Daily report" in m.text]

    await env.api.wait_for(lambda: bool(pushed()))
    return pushed()[-1]


async def test_the_job_runs_daily_at_the_local_time_in_the_traders_zone(env: BotEnv) -> None:
    assert env.app.job_queue is not None
    [job] = env.app.job_queue.get_jobs_by_name("daily_report")
    next_run = job.next_t
    assert next_run is not None
    local = next_run.astimezone(BERLIN)
    assert (local.hour, local.minute) == (21, 0)


async def test_the_report_has_the_days_pnl_and_the_open_positions(env: BotEnv) -> None:
    await trade(env)
    services = env.app.bot_data.services
    report = await daily_report(env.tracker, env.store, BERLIN, services.clock())
    assert report is not None
    scope = Scope(parse_period("today", services.clock(), BERLIN))
    s = summarize(await pnl_events(env.store, scope), await closed_trades(env.store, scope))
    assert (report.net, report.price, report.fees, report.funding) == (
        s.net, s.price, s.fees, s.funding)
    assert report.funding == D("-0.06") and report.closes == 1 and report.wins == 1
    assert report.open_positions == 1 and report.unrealized == D("5")  # ETH short 3000 → 2990
    scheduler = env.app.bot_data.scheduler
    assert scheduler is not None and scheduler.daily_report is not None
    await scheduler.daily_report[1]()
    push = await daily_push(env)
    text = html_visible_text(push.text)
    assert "Daily report" in text and f"P&L {s.net.quantize(D('0.01')):+} USDT" in text
    assert "unrealized +5.00 USDT" in text and not push.disable_notification
    await scheduler.daily_report[1]()  # the same day again: deduplicated in the outbox
    await asyncio.sleep(0.5)  # several drains
    assert sum("Daily report" in m.text for m in env.api.messages(PUSH_CHAT)) == 1


@pytest.mark.parametrize("env", [{"notifications": {"daily_report": "silent"}}], indirect=True)
async def test_the_report_follows_the_chats_notification_mode(env: BotEnv) -> None:
    await trade(env)
    scheduler = env.app.bot_data.scheduler
    assert scheduler is not None and scheduler.daily_report is not None
    await scheduler.daily_report[1]()
    assert (await daily_push(env)).disable_notification
