"""A stop resize is told in the push of the change that caused it: one message saying the new
size and what the stop covers now, not a second push and not silence."""

from __future__ import annotations

from decimal import Decimal

from positionbot.bot.app import notifier_of
from positionbot.tracker.core.models import OrderSide, Side
from tests.support.telegram import BTC, PUSH_CHAT, BotEnv, open_position


async def _push_after(env: BotEnv, title: str) -> str:
    before = len(env.api.messages(PUSH_CHAT))
    await env.cycle()
    await notifier_of(env.app).drain()
    await env.api.wait_for(lambda: len(env.api.messages(PUSH_CHAT)) > before)
    texts = [m.text for m in env.api.messages(PUSH_CHAT)[before:]]
    [push] = [t for t in texts if title in t]
    return push


async def test_an_increase_and_a_decrease_say_the_size_the_resized_stop_covers(
    env: BotEnv,
) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.010", "60000")
    await env.cycle()
    await env.command("/sl BTC 58000")
    await notifier_of(env.app).drain()

    env.exchange.manual_order(BTC, OrderSide.BUY, Decimal("0.005"))
    increased = await _push_after(env, "Increased")
    assert "SL 58000.0 for 0.015" in increased
    [stop] = env.exchange.open_stop_orders()
    assert stop.amount == Decimal("0.015")  # the push says what the exchange holds

    env.exchange.manual_order(BTC, OrderSide.SELL, Decimal("0.012"), reduce_only=True)
    decreased = await _push_after(env, "Decreased")
    assert "SL 58000.0 for 0.003" in decreased
    [stop] = env.exchange.open_stop_orders()
    assert stop.amount == Decimal("0.003")


async def test_without_a_stop_the_push_says_so(env: BotEnv) -> None:
    open_position(env.exchange, BTC, Side.LONG, "0.010", "60000")
    await env.cycle()
    await notifier_of(env.app).drain()
    env.exchange.manual_order(BTC, OrderSide.BUY, Decimal("0.005"))
    assert "SL none" in await _push_after(env, "Increased")
