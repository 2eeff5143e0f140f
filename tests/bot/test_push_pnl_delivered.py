"""The P&L booked by a take-profit folded into a net add reaches the trader's chat: tracker,
outbox, notifier and real python-telegram-bot against the fake Bot API, which parses the HTML as
Telegram does."""

from __future__ import annotations

from decimal import Decimal

from positionbot.bot.app import notifier_of
from positionbot.bot.render.format import fmt_money
from positionbot.fakes.botapi_rules import html_visible_text
from positionbot.tracker.core.models import OrderSide
from tests.support.telegram import BTC, PUSH_CHAT, BotEnv

D = Decimal


async def _push_after(env: BotEnv, title: str) -> str:
    before = len(env.api.messages(PUSH_CHAT))
    await env.cycle()
    await notifier_of(env.app).drain()
    await env.api.wait_for(lambda: len(env.api.messages(PUSH_CHAT)) > before)
    texts = [html_visible_text(m.text) for m in env.api.messages(PUSH_CHAT)[before:]]
    [push] = [t for t in texts if title in t]
    return push


async def test_an_add_and_a_take_profit_in_one_interval_push_their_exact_pnl(env: BotEnv) -> None:
    venue = env.exchange
    venue.set_mark(BTC, D("50000"))
    venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    opened = await _push_after(env, "Opened")
    entry_fee = venue.fills[0].fee
    assert f"Fees {fmt_money(entry_fee, 'USDT', signed=False)}" in opened
    venue.set_mark(BTC, D("50100"))
    venue.manual_order(BTC, OrderSide.BUY, D("0.030"))
    venue.set_mark(BTC, D("51000"))
    venue.manual_order(BTC, OrderSide.SELL, D("0.015"), reduce_only=True)
    _, add, take = venue.fills
    booked = (take.price - D("50075")) * take.amount - take.fee - add.fee
    assert booked == D("12.9678")  # 13.875 - 0.306 - 0.6012, exact
    text = await _push_after(env, "Increased")
    assert "Size 0.010 → 0.025" in text
    assert "P&L +12.97 USDT · fees 0.91 USDT" in text
    assert f"Trade P&L {fmt_money(booked - entry_fee, 'USDT')}" in text
