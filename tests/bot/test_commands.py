"""Commands as a user types them, answered by the real application over the fake Bot API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.fakes.botapi_rules import html_visible_text
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.exchange.paper import Fault
from tests.support.telegram import BTC, CHAT, ETH, STRANGER, BotEnv, open_position


async def test_command_list_is_registered_and_start_explains_the_bot(env: BotEnv) -> None:
    await env.api.wait_for(lambda: bool(env.api.commands_for_chat(CHAT)))  # set once connected
    names = {c["command"] for c in env.api.commands_for_chat(CHAT)}
    assert {"start", "help", "positions", "sync", "sl", "history", "status"} <= names
    reply = await env.command("/start")
    assert "/positions" in reply.text and "/sl BTC -2%" in reply.text
    assert [label for label, _ in reply.buttons] == ["📊 Positions", "⟳ Sync now"]
    help_reply = await env.command("/help")
    assert "below it for a long" in help_reply.text


async def test_positions_shows_size_entry_mark_pnl_stop_and_sync_age(env: BotEnv) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    open_position(env.exchange, ETH, Side.SHORT, "1.5", "3000")
    await env.cycle()
    env.exchange.set_mark(BTC, Decimal("61000"))
    env.exchange.set_mark(ETH, Decimal("3100"))
    await env.cycle()
    reply = await env.command("/positions")
    text = html_visible_text(reply.text)
    assert "synced 0s ago" in text or "synced 1s ago" in text
    assert "BTC/USDT:USDT 🟢 LONG 0.010 · manual" in text
    assert "Entry 60000.0 · mark 61000.0" in text
    assert "uP&L +10.00 USDT (+1.67%) · no SL" in text
    assert "ETH/USDT:USDT 🔴 SHORT 1.500" in text
    assert "uP&L -150.00 USDT (-3.33%)" in text
    labels = [label for label, _ in reply.buttons]
    assert labels[:2] == ["🛑 SL BTC long", "✖ Close BTC long"]
    assert labels[-2:] == ["🔄 Refresh", "⟳ Sync now"]


async def test_positions_warns_when_the_exchange_is_unreachable(env: BotEnv) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    env.exchange.faults.inject(Fault.UNAVAILABLE, Fault.UNAVAILABLE)
    assert not (await env.tracker.run_cycle("main")).ok
    reply = await env.command("/positions")
    assert "⚠️ Exchange unreachable: 1 failed syncs" in reply.text
    assert "may be stale" in reply.text
    assert BTC in reply.text  # the last known data is still shown


async def test_sync_runs_a_cycle_and_reports_what_changed(env: BotEnv) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    reply = await env.command("/sync")
    text = html_visible_text(reply.text)
    assert text.startswith("✅ main synced in")
    assert "• opened BTC/USDT:USDT 🟢 LONG 0.010 @ 60000.0" in text
    again = await env.command("/sync main")
    assert "No changes." in again.text
    env.exchange.set_mark(BTC, Decimal("61000"))
    env.exchange.manual_order(BTC, OrderSide.SELL, Decimal("0.01"), reduce_only=True)
    closed = html_visible_text((await env.command("/sync")).text)
    assert "• closed BTC/USDT:USDT 🟢 LONG 0.010 @ 61000.0 · P&L +" in closed
    unknown = await env.command("/sync nope")
    assert "Unknown account <b>nope</b>" in unknown.text


async def test_history_lists_closed_trades_with_pnl(env: BotEnv) -> None:
    empty = await env.command("/history")
    assert "No closed trades yet" in empty.text
    env.exchange.manual_order(BTC, OrderSide.BUY, Decimal("0.01"))
    await env.cycle()
    env.exchange.set_mark(BTC, Decimal("61000"))
    env.exchange.manual_order(BTC, OrderSide.SELL, Decimal("0.01"), reduce_only=True)
    await env.cycle()
    text = html_visible_text((await env.command("/history")).text)
    assert "BTC/USDT:USDT 🟢 LONG · +9.5" in text  # 10 USDT less taker fees
    assert "Total: +9.5" in text
    bad = await env.command("/history 500")
    assert "Usage" in bad.text


async def test_status_shows_accounts_backlog_timings_and_version(env: BotEnv) -> None:
    text = html_visible_text((await env.command("/status")).text)
    assert "Status · positionbot" in text
    assert "✅ main · synced" in text and "0 failures" in text
    assert "last cycle" in text and "calls" in text
    assert "Outbox backlog:" in text


async def test_unknown_command_gets_a_hint(env: BotEnv) -> None:
    reply = await env.command("/frobnicate")
    assert "See /help" in reply.text


async def test_unauthorized_chat_gets_nothing(
    env: BotEnv, caplog: pytest.LogCaptureFixture,
) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    for text in ("/positions", "/start", "/sl BTC 58000", "/status", "/nonsense"):
        env.api.user_message(STRANGER, text)
    presses = [env.api.press_button(STRANGER, 1, data)
               for data in ("v1|r|pos", "v1|s|main", "v1|ss|1|58000", "garbage")]
    await env.api.wait_for(lambda: caplog.text.count("unauthorized chat 6666") == 9)
    await env.command("/help")  # and the bot is still serving its own chat
    assert env.api.messages(STRANGER) == []
    assert not [q for q in presses if q in env.api.callback_answers]
    assert not [c for _, c in env.api.calls if str(c.get("chat_id")) == str(STRANGER)]
    assert env.exchange.open_stop_orders() == []
