"""/pnl, its buttons and chart, /daily, /export and /balance as a trader meets them: the real
application over the fake Bot API, the real tracker over the paper venue, a real SQLite file."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.bot.app import stop
from positionbot.bot.handlers.pnl import Request, chart_png
from positionbot.bot.render.chart import HEIGHT_PX, WIDTH_PX
from positionbot.fakes.botapi_rules import MAX_TEXT, html_visible_text, png_size
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.reports import Scope, closed_trades, pnl_events
from positionbot.storage.store import Store
from positionbot.tracker.core.funding import FundingSettings
from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.core.pnl import parse_period, summarize
from positionbot.tracker.engine.funding_sync import FundingSync
from tests.support.telegram import BTC, CHAT, ETH, BotEnv, make_env

D = Decimal


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[BotEnv]:
    async with FakeBotApi() as api:
        store = await Store.open(tmp_path / "bot.db")
        bot_env = await make_env(api, store)
        bot_env.tracker.funding = FundingSync(FundingSettings(interval=timedelta(0)))
        try:
            yield bot_env
        finally:
            await stop(bot_env.app)
            await store.close()


async def trade_round_trips(env: BotEnv) -> None:
    """A winning BTC long with funding paid, a losing ETH short, and an open BTC position."""
    ex = env.exchange
    ex.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await env.cycle()
    ex.apply_funding(BTC, D("0.0001"))
    ex.set_mark(BTC, D("61000"))
    await env.cycle()
    ex.manual_order(BTC, OrderSide.SELL, D("0.010"), reduce_only=True)
    await env.cycle()
    ex.manual_order(ETH, OrderSide.SELL, D("0.50"))
    await env.cycle()
    ex.set_mark(ETH, D("3030"))
    ex.manual_order(ETH, OrderSide.BUY, D("0.50"), reduce_only=True)
    await env.cycle()
    ex.manual_order(BTC, OrderSide.BUY, D("0.002"))
    await env.cycle()


async def today_summary(env: BotEnv):  # type: ignore[no-untyped-def]
    scope = Scope(parse_period("today", env.tracker.now(), env.app.bot_data.services.telegram.zone))
    return summarize(await pnl_events(env.store, scope), await closed_trades(env.store, scope))


async def test_pnl_shows_net_with_its_parts_and_matches_the_venue(env: BotEnv) -> None:
    await trade_round_trips(env)
    s = await today_summary(env)
    venue = env.exchange.income.rows()
    assert s.net == sum((r.amount for r in venue), D(0))
    assert s.funding == D("-0.06000000") and s.closes == 2 and s.wins == 1 and s.losses == 1
    reply = await env.command("/pnl")
    text = html_visible_text(reply.text)
    assert f"Net P&L: {s.net.quantize(D('0.01')):+} USDT" in text
    assert "funding -0.06 USDT" in text
    assert "win rate 50%" in text or "win rate 50.00%" in text
    assert "BTC/USDT:USDT" in text and "ETH/USDT:USDT" in text
    assert text.index("BTC/USDT:USDT +") < text.index("ETH/USDT:USDT -")  # sorted by P&L
    assert [label for label, _ in reply.buttons] == ["• Today", "Week", "Month", "All", "📈 Chart"]


async def test_period_buttons_edit_the_reply_in_place(env: BotEnv) -> None:
    await trade_round_trips(env)
    reply = await env.command("/pnl")
    await env.press_labelled(reply, "Month")
    edited = env.api.message(CHAT, reply.message_id)
    assert edited.edits == 1 and "this month" in edited.text
    assert [label for label, _ in edited.buttons][2] == "• Month"


async def test_chart_is_a_png_sent_with_send_photo_whose_points_are_the_pnl_figures(
        env: BotEnv) -> None:
    await trade_round_trips(env)
    reply = await env.command("/pnl week")
    before = len(env.api.messages(CHAT))
    await env.press_labelled(reply, "Chart")
    await env.api.wait_for_messages(CHAT, before + 1)
    photo = env.api.messages(CHAT)[-1]
    assert photo.photo and photo.file is not None
    assert png_size(photo.file) == (WIDTH_PX, HEIGHT_PX)
    assert [name for name, _ in env.api.calls].count("sendPhoto") == 1
    drawn = await chart_png(env.app.bot_data.services, Request("week"))
    assert drawn is not None
    _, data = drawn
    s = await today_summary(env)
    assert data.cumulative[-1] == s.net  # everything happened today
    assert data.daily[-1] == s.net and sum(data.daily, D(0)) == s.net
    shown = re.search(r"Net P&amp;L: <b>([^<]+)</b>", reply.text)
    assert shown is not None and f"<b>{shown.group(1)}</b>" in photo.text  # the /pnl figure


async def test_daily_rows_add_up_and_long_tables_stay_within_telegram_limits(
        env: BotEnv) -> None:
    await trade_round_trips(env)
    reply = await env.command("/daily")
    text = html_visible_text(reply.text)
    s = await today_summary(env)
    assert text.count("closed") == 8  # seven days and the total
    assert f"Total: {s.net.quantize(D('0.01')):+} USDT · 2 closed" in text
    before = len(env.api.messages(CHAT))
    env.api.user_message(CHAT, "/daily 90")
    await env.api.wait_for_messages(CHAT, before + 2)  # too long for one message: paged
    for m in env.api.messages(CHAT)[before:]:
        assert len(html_visible_text(m.text)) <= MAX_TEXT and len(m.text) <= MAX_TEXT


async def test_export_csv_parses_back_to_exactly_the_stored_decimals(env: BotEnv) -> None:
    await trade_round_trips(env)
    before = len(env.api.messages(CHAT))
    env.api.user_message(CHAT, "/export today")
    await env.api.wait_for_messages(CHAT, before + 1)
    doc = env.api.messages(CHAT)[-1]
    assert doc.document and doc.file is not None and (doc.file_name or "").endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(doc.file.decode("utf-8"))))
    stored = {}
    for t in await env.store.list_trades("main", limit=100):
        for e in await env.store.events_for_trade(t.id):
            stored[(t.id, e.seq)] = (t, e)
    assert len(rows) == len(stored) > 0
    for row in rows:
        t, e = stored[(int(row["trade_id"]), int(row["event_seq"]))]
        assert D(row["net_pnl"]) == e.realized_pnl and row["net_pnl"] == str(e.realized_pnl)
        assert row["fees"] == str(e.fees) and row["size_after"] == str(e.size_after)
        assert row["trade_net_pnl"] == str(t.realized_pnl) and row["event"] == e.kind
    funding = [r for r in rows if r["event"] == "funding"]
    assert len(funding) == 1 and funding[0]["funding_id"]
    net = sum((D(r["net_pnl"]) for r in rows), D(0))
    assert net == sum((r.amount for r in env.exchange.income.rows()), D(0))


async def test_balance_shows_wallet_available_unrealized_and_margin(env: BotEnv) -> None:
    env.exchange.leverage = D(10)
    env.exchange.manual_order(BTC, OrderSide.BUY, D("0.010"))
    env.exchange.set_mark(BTC, D("61000"))
    reply = await env.command("/balance")
    text = html_visible_text(reply.text)
    assert "main · USDT" in text
    b = env.exchange.balance()
    assert f"Wallet {b.wallet.quantize(D('0.01'))} USDT" in text
    assert "Unrealized P&L +10.00 USDT · margin in use 61.00 USDT" in text


async def test_bad_arguments_get_a_clear_answer(env: BotEnv) -> None:
    reply = await env.command("/pnl 0d")
    assert "Usage" in reply.text
    reply = await env.command("/daily 500")
    assert "N from 1 to 90" in reply.text


async def test_positions_show_leverage_margin_and_return_on_margin(env: BotEnv) -> None:
    env.exchange.leverage = D(10)
    env.exchange.manual_order(BTC, OrderSide.BUY, D("0.010"))
    env.exchange.set_mark(BTC, D("61000"))
    await env.cycle()
    reply = await env.command("/positions")
    assert "10x · margin 61.00 USDT · ROE +16.39%" in html_visible_text(reply.text)


async def test_history_shows_the_funding_inside_a_trades_net(env: BotEnv) -> None:
    await trade_round_trips(env)
    reply = await env.command("/history")
    text = html_visible_text(reply.text)
    btc = next(line for line in text.splitlines() if "BTC/USDT:USDT" in line)
    assert "(funding -0.06 USDT)" in btc
    eth = next(line for line in text.splitlines() if "ETH/USDT:USDT" in line)
    assert "funding" not in eth

