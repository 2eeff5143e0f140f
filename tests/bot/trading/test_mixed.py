"""Mixed trading: bot trades touched by hand, manual positions handled from the chat, and a
manual fill while a bot entry waits — the record stays one trade per position, true to the
exchange, and the stop loss follows the size."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from positionbot.tracker.core.models import OrderSide, Source, TradeStatus
from tests.support.telegram import PUSH_CHAT
from tests.support.trading import BTC, D, TradingEnv, only_trade, place


def stop_sizes(env: TradingEnv) -> list[tuple[Decimal, Decimal | None]]:
    return [(o.amount, o.trigger_price) for o in env.venue.open_stop_orders()]


def outbox_by_bot(env: TradingEnv, kind: str) -> list[bool]:
    """Whether each push of ``kind`` written so far (delivered or not) says the bot did it."""
    with sqlite3.connect(f"file:{env.store.path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT fields FROM notifications WHERE kind = ? ORDER BY id",
                          (kind,)).fetchall()
    return [json.loads(fields)["by_bot"] for (fields,) in rows]


async def test_bot_trade_increased_by_hand_keeps_its_source_and_resizes_the_stop(
        env: TradingEnv) -> None:
    await place(env, "/long BTC 0.010 sl 48000")
    env.venue.manual_order(BTC, OrderSide.BUY, D("0.005"))  # the trader adds in the app
    await env.cycle()
    assert "Size 0.010 → 0.015" in await env.push("Increased")
    trade = only_trade(env)
    assert (trade.source, trade.size) == (Source.BOT, D("0.015"))
    assert stop_sizes(env) == [(D("0.015"), D("48000"))]


async def test_bot_trade_partly_closed_by_hand_stays_the_bots(env: TradingEnv) -> None:
    await place(env, "/short ETH 1 sl 3100")
    env.venue.manual_order("ETH/USDT:USDT", OrderSide.BUY, D("0.4"), reduce_only=True)
    await env.cycle()
    decreased = await env.push("Decreased")
    assert "Size 1.000 → 0.600" in decreased and "<i>bot · main</i>" in decreased
    assert outbox_by_bot(env, "decreased") == [False]  # by hand, not the bot
    trade = only_trade(env)
    assert (trade.source, trade.size) == (Source.BOT, D("0.6"))
    assert stop_sizes(env) == [(D("0.6"), D("3100"))]


async def test_manual_position_closed_through_close(env: TradingEnv) -> None:
    env.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await env.cycle()
    assert "<i>manual · main</i>" in await env.push("Opened")

    preview = await env.command("/close BTC 40%")
    assert "<b>Close part</b>" in preview.text
    assert "Reduce-only market sell 0.004 of 0.010 ~50000.0 (mark)" in preview.text
    outcome = await env.confirm(preview)
    assert "Close sent" in outcome.text
    (reduce,) = env.sent("/fapi/v1/order")
    assert (reduce["side"], reduce["type"], D(reduce["quantity"]), reduce["reduceOnly"]) == (
        "SELL", "MARKET", D("0.004"), "true")
    decreased = await env.push("Decreased", "Size 0.010 → 0.006")
    assert "closed by the bot" in decreased
    assert outbox_by_bot(env, "decreased") == [True]
    assert only_trade(env).size == D("0.006")

    env.venue.set_mark(BTC, D("51000"))
    preview = await env.command("/close btc")
    assert "<b>Close all</b>" in preview.text and "P&amp;L at the mark ≈ +6.00 USDT" in preview.text
    await env.confirm(preview)
    closed = await env.push("Closed", BTC)
    assert "closed by the bot" in closed and "Exit 51000.0" in closed
    assert env.venue.positions() == [] and env.tracker.book.active_trades("main") == []
    (record,) = await env.store.list_trades("main")
    assert (record.source, record.close_reason) == (Source.EXTERNAL, "bot_close")


async def test_close_button_under_a_push_asks_then_closes(env: TradingEnv) -> None:
    env.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await env.cycle()
    await env.push("Opened")
    push = next(m for m in env.api.messages(PUSH_CHAT) if "Opened" in m.text)
    count = len(env.api.messages(push.chat_id))
    await env.press(push, "Close")
    await env.api.wait_for_messages(push.chat_id, count + 1)
    preview = env.api.messages(push.chat_id)[-1]
    assert "<b>Close all</b>" in preview.text and env.orders_sent() == 0
    assert env.current(push).edits == 0  # the push stays as it was
    await env.confirm(preview)
    assert "closed by the bot" in await env.push("Closed")


async def test_stop_loss_set_from_telegram_on_a_manual_position(env: TradingEnv) -> None:
    env.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await env.cycle()
    reply = await env.command("/sl BTC -2%")
    assert "stop loss placed at 49000" in reply.text
    (stop,) = env.sent("/fapi/v1/algoOrder")
    assert (D(stop["triggerPrice"]), D(stop["quantity"]), stop["reduceOnly"]) == (
        D("49000"), D("0.010"), "true")
    trade = only_trade(env)
    assert (trade.source, trade.stop_loss_price) == (Source.EXTERNAL, D("49000"))
    await env.confirm(await env.command("/close BTC"))  # closing it cleans up the stop
    await env.push("Closed")
    assert env.venue.open_stop_orders() == []
    assert len(env.sent("/fapi/v1/algoOrder", "DELETE")) == 1


async def test_manual_limit_fill_while_a_bot_entry_is_pending(env: TradingEnv) -> None:
    bot = await place(env, "/long BTC 0.010 @45000 sl 44000")
    manual = env.venue.manual_order(BTC, OrderSide.BUY, D("0.006"), price=D("49000"))
    env.venue.set_mark(BTC, D("48900"))  # the trader's own limit fills first
    await env.cycle()
    trade = only_trade(env)  # one record for the one position, linked to the waiting entry
    assert (trade.id, trade.status, trade.source, trade.size) == (
        bot.id, TradeStatus.OPEN, Source.BOT, D("0.006"))
    assert stop_sizes(env) == [(D("0.006"), D("44000"))]
    assert manual.id != bot.entry_order_id

    assert bot.entry_order_id is not None
    env.venue.fill_order(bot.entry_order_id)  # later the bot's own entry fills as well
    await env.cycle()
    await env.push("Increased", "Size 0.006 → 0.016")
    assert only_trade(env).size == D("0.016")
    assert stop_sizes(env) == [(D("0.016"), D("44000"))]
    assert env.venue.positions()[0].size == D("0.016")


async def test_a_close_refused_by_the_exchange_does_not_claim_the_manual_close(
        env: TradingEnv) -> None:
    env.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await env.cycle()
    preview = await env.command("/close BTC")
    env.venue.manual_order(BTC, OrderSide.SELL, D("0.010"), reduce_only=True)  # closed in the app
    outcome = await env.confirm(preview)
    assert outcome.text.startswith("⚠️ The exchange refused") and "-2022" in outcome.text
    await env.cycle()
    closed = await env.push("Closed", BTC)
    assert "closed on the exchange" in closed and "by the bot" not in closed


async def test_close_button_on_a_pending_entry_offers_to_cancel_it(env: TradingEnv) -> None:
    bot = await place(env, "/long BTC 0.010 @45000")
    listing = await env.command("/positions")
    count = len(env.api.messages(listing.chat_id))
    await env.press(listing, "Close BTC long")
    await env.api.wait_for_messages(listing.chat_id, count + 1)
    preview = env.api.messages(listing.chat_id)[-1]
    assert f"Cancel pending entry #{bot.id}" in preview.text
    assert [label for label, _ in preview.buttons] == ["✅ Cancel the entry", "Keep it"]
    await env.press(preview, "Keep it")
    await env.api.wait_for(lambda: env.current(preview).text.startswith("✖ Cancelled"))
    assert env.sent("/fapi/v1/order", "DELETE") == [] and only_trade(env).id == bot.id
