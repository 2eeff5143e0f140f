"""Wiring: the configured Bot API server, the allow-list, and a listing too long for one message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from positionbot.bot.app import build_application, file_url_for, stop
from positionbot.bot.render.format import SAFE_MESSAGE_CHARS, split_message
from positionbot.bot.render.listing import AccountView, render_positions
from positionbot.fakes.botapi_rules import html_visible_text
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import Position, Side, Source, SyncState, Trade, TradeStatus
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets
from tests.support.telegram import app_config, make_env, telegram_config


async def test_telegram_base_url_from_the_config_selects_the_server(
    api: FakeBotApi, store: Store,
) -> None:
    gateway = PaperGateway(PaperExchange(default_markets()), account="main")
    tracker = SimplePositionTracker(store, {"main": gateway})
    config = app_config(telegram_config(base_url=api.base_url))
    app = build_application(config, tracker, store, token=api.token)
    async with app:
        assert app.bot.username == "positionbot_test"
    assert api.calls_of("getMe")
    assert file_url_for("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert file_url_for("https://tg.example/api/") == "https://tg.example/api/file/bot"


async def test_an_allowed_user_may_use_the_bot_from_any_chat(
    api: FakeBotApi, store: Store,
) -> None:
    env = await make_env(api, store, telegram=telegram_config(allowed_users=[777]))
    try:
        env.api.user_message(-100999, "/help", user_id=777)
        env.api.user_message(-100998, "/help", user_id=778)
        await env.api.wait_for_messages(-100999, 1)
        await env.command("/help")
        assert env.api.messages(-100998) == []
    finally:
        await stop(env.app)


def test_a_long_listing_splits_into_valid_messages() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    markets = {m.symbol: m for m in default_markets()}
    trades = [Trade(i, "main", f"C{i}<&>/USDT:USDT", Side.LONG if i % 2 else Side.SHORT,
                    TradeStatus.OPEN if i % 5 else TradeStatus.PENDING, Source.EXTERNAL,
                    size=Decimal("1.5"), avg_entry_price=Decimal("100"),
                    stop_loss_price=Decimal("90") if i % 3 else None,
                    opened_at=now - timedelta(hours=i), created_at=now - timedelta(hours=i))
              for i in range(1, 120)]
    positions = {t.id: Position(t.symbol, t.side, t.size, t.avg_entry_price, Decimal("101"))
                 for t in trades}
    sync = SyncState("main", last_success_at=now - timedelta(seconds=42),
                     consecutive_failures=2, last_error="HTTP 502 <bad gateway>")
    text = render_positions([AccountView("main", sync, trades, positions, markets)], now)
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= SAFE_MESSAGE_CHARS
        html_visible_text(part)
    visible = html_visible_text(parts[0])
    assert visible.startswith("📊 main · synced 42s ago")
    assert "⚠️ Exchange unreachable: 2 failed syncs (last error: HTTP 502 <bad gateway>)" in visible
    assert "C1<&>/USDT:USDT" in visible
    assert "uP&L +1.50 USDT (+1.00%)" in visible


async def test_startup_waits_out_a_telegram_outage(
    api: FakeBotApi, store: Store, caplog: pytest.LogCaptureFixture,
) -> None:
    await api.start_outage("502", polling=True)
    asyncio.get_running_loop().call_later(
        0.3, lambda: asyncio.ensure_future(api.end_outage()))
    env = await make_env(api, store)
    try:
        assert "Telegram unreachable" in caplog.text and "tracking carries on" in caplog.text
        assert "/positions" in (await env.command("/help")).text
    finally:
        await stop(env.app)
