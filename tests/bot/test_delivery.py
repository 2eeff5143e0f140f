"""Pushes end to end: exchange change → scheduled cycle → outbox → notifier → Telegram,
through outages and flood control, with the whole application running."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from positionbot.bot.app import stop
from positionbot.bot.scheduler import Timing
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide
from tests.support.telegram import BTC, ETH, PUSH_CHAT, BotEnv, make_env

# PTB itself warns when it builds a RetryAfter; the 429s here are deliberate.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TIMING = Timing(interval=0.05, cycle_timeout=2, watchdog_after=30, notify_interval=0.05)


@pytest.fixture
async def live(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await make_env(api, store, timing=TIMING)
    await api.wait_for(lambda: any("started" in m.text for m in api.messages(PUSH_CHAT)))
    yield env
    await stop(env.app)


def headers(env: BotEnv) -> list[str]:
    """The first line of each push, startup excluded."""
    return [m.text.split("\n")[0] for m in env.api.messages(PUSH_CHAT) if "started" not in m.text]


async def until(env: BotEnv, predicate: Callable[[], bool]) -> None:
    await env.api.wait_for(predicate, within=5)


async def test_telegram_down_for_a_while_then_back_delivers_all_in_order_once(
    live: BotEnv,
) -> None:
    await live.api.start_outage("refuse", polling=True)
    trades = live.tracker.book.active_trades
    live.exchange.manual_order(BTC, OrderSide.BUY, Decimal("0.01"))
    await until(live, lambda: len(trades()) == 1)
    live.exchange.manual_order(BTC, OrderSide.BUY, Decimal("0.01"))
    await until(live, lambda: trades()[0].size == Decimal("0.02"))
    live.exchange.manual_order(ETH, OrderSide.SELL, Decimal("1"))
    await until(live, lambda: len(trades()) == 2)
    live.exchange.manual_order(BTC, OrderSide.SELL, Decimal("0.02"), reduce_only=True)
    await until(live, lambda: len(trades()) == 1)
    assert headers(live) == []
    assert await live.store.outbox_backlog() == 4
    await live.api.end_outage()
    await until(live, lambda: len(headers(live)) >= 4)
    assert "/positions" in (await live.command("/help")).text  # polling came back too
    assert headers(live) == [
        "🆕 <b>Opened</b> · <b>BTC/USDT:USDT</b> 🟢 LONG",
        "➕ <b>Increased</b> · <b>BTC/USDT:USDT</b> 🟢 LONG",
        "🆕 <b>Opened</b> · <b>ETH/USDT:USDT</b> 🔴 SHORT",
        "🏁 <b>Closed</b> · <b>BTC/USDT:USDT</b> 🟢 LONG",
    ]
    assert await live.store.outbox_backlog() == 0


async def test_flood_control_retry_after_is_waited_out(live: BotEnv) -> None:
    live.api.flood("sendMessage", retry_after=1)
    live.exchange.manual_order(BTC, OrderSide.BUY, Decimal("0.01"))
    await until(live, lambda: len(headers(live)) == 1)
    sends = [t for (method, _), t in zip(live.api.calls, live.api.call_times, strict=True)
             if method == "sendMessage"]
    flooded, delivered = sends[-2], sends[-1]
    assert delivered - flooded >= 1.0
    assert headers(live) == ["🆕 <b>Opened</b> · <b>BTC/USDT:USDT</b> 🟢 LONG"]
