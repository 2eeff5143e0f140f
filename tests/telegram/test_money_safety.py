"""Issue 11, bot side: every path that could place, keep or lose an order wrongly, through real
python-telegram-bot against the fake Bot API and the tracker over the paper exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.tracker.core.models import Side
from tests.telegram.conftest import BTC, BotEnv, open_position


def stop_prices(env: BotEnv) -> list[Decimal]:
    return [o.trigger_price for o in env.exchange.open_stop_orders()
            if o.trigger_price is not None]


@pytest.fixture
async def long_btc(env: BotEnv) -> BotEnv:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    return env


@pytest.mark.parametrize("command", [
    "/sl BTC -2,5%", "/sl BTC 1,5%", "/sl BTC 1,5", "/sl BTC 58,000", "/sl -2,5%",
    "/long BTC 0,01", "/long BTC 0.01 @59,000", "/long BTC 0.01 sl -2,5%", "/close BTC 2,5%",
    "/close BTC 0,005",
])
async def test_a_comma_is_refused_with_a_hint_and_nothing_is_placed(
    long_btc: BotEnv, command: str,
) -> None:
    reply = await long_btc.command(command)
    assert "with a dot for decimals" in reply.text, reply.text
    assert "never guess" in reply.text
    assert not reply.buttons  # no Confirm: nothing can be sent from a guessed number
    assert stop_prices(long_btc) == []
    assert long_btc.tracker.book.active_trades()[0].stop_loss_price is None


async def test_sync_runs_one_cycle_per_account_however_often_it_is_named(long_btc: BotEnv) -> None:
    before = long_btc.tracker.cycles_completed
    reply = await long_btc.command("/sync " + " ".join(["main"] * 15))
    assert "Usage" not in reply.text and "Unknown" not in reply.text
    assert long_btc.tracker.cycles_completed == before + 1
    refused = await long_btc.command("/sync " + " ".join(["main"] * 400))
    assert "at most 20 accounts" in refused.text
    assert long_btc.tracker.cycles_completed == before + 1
