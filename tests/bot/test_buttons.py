"""Inline buttons pressed as a user would: refresh in place, sync, listings, stale presses."""

from __future__ import annotations

from decimal import Decimal

from positionbot.bot.handlers.common import STALE
from positionbot.tracker.core.models import Side
from tests.support.telegram import BTC, CHAT, PUSH_CHAT, BotEnv, open_position


async def test_refresh_edits_the_listing_in_place(env: BotEnv) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    listing = await env.command("/positions")
    count = len(env.api.messages(CHAT))
    env.exchange.set_mark(BTC, Decimal("60500"))
    await env.cycle()
    answer = await env.press_labelled(listing, "Refresh")
    assert answer["text"] == "Refreshed"
    edited = env.api.message(CHAT, listing.message_id)
    assert edited.edits == 1 and "mark 60500.0" in edited.text
    assert len(env.api.messages(CHAT)) == count
    again = await env.press_labelled(edited, "Refresh")
    assert again["text"] == "Already up to date"


async def test_sync_button_reports_and_refreshes_the_listing(env: BotEnv) -> None:
    listing = await env.command("/positions")
    assert "No open positions." in listing.text
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    count = len(env.api.messages(CHAT))
    answer = await env.press_labelled(listing, "Sync now")
    assert answer["text"] == "Syncing…"
    await env.api.wait_for_messages(CHAT, count + 1)
    report = env.api.messages(CHAT)[-1]
    assert "opened <b>BTC/USDT:USDT</b>" in report.text
    assert BTC in env.api.message(CHAT, listing.message_id).text


async def test_push_buttons_open_a_new_listing_and_the_stop_menu(env: BotEnv) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    await env.api.wait_for(lambda: any("Opened" in m.text for m in env.api.messages(PUSH_CHAT)))
    push = next(m for m in env.api.messages(PUSH_CHAT) if "Opened" in m.text)
    assert [label for label, _ in push.buttons] == [
        "🛑 Stop loss", "✖ Close", "📊 Positions", "⟳ Sync now"]
    count = len(env.api.messages(PUSH_CHAT))
    await env.press_labelled(push, "Positions")
    await env.api.wait_for_messages(PUSH_CHAT, count + 1)
    assert "Entry 60000.0" in env.api.messages(PUSH_CHAT)[-1].text
    await env.press_labelled(push, "Stop loss")
    await env.api.wait_for_messages(PUSH_CHAT, count + 2)
    menu = env.api.messages(PUSH_CHAT)[-1]
    assert "Mark 60000.0 · no SL" in menu.text
    assert [label for label, _ in menu.buttons][:2] == ["-1% · 59400.0", "-2% · 58800.0"]
    assert env.api.message(PUSH_CHAT, push.message_id).edits == 0  # the push stays as it was
    await env.press_labelled(push, "Close")
    await env.api.wait_for_messages(PUSH_CHAT, count + 3)
    assert "<b>Close all</b>" in env.api.messages(PUSH_CHAT)[-1].text  # it asks first
    assert env.exchange.positions() != []


async def test_stale_and_forged_buttons_are_answered_clearly(env: BotEnv) -> None:
    listing = await env.command("/positions")
    for data in ("v0|r|pos", "v1|sl|999", "v1|ss|999|58000", "v1|s|gone", "💥" * 20):
        answer = await env.press(listing, data)
        assert answer["text"] in (STALE, "Trade #999 is no longer open or pending.")
    assert env.api.message(CHAT, listing.message_id).edits == 0
    assert env.exchange.open_stop_orders() == []
