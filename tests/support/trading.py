"""The trading commands end to end: real PTB against the fake Bot API, the real tracker on real
ccxt (``binanceusdm``) against the local Binance-format server, and a real SQLite file.

The venue behind the server is a ``PaperExchange``: tests trade "by hand" on it as a trader would
in the exchange app, and assert at the server what the bot sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from positionbot.bot.app import App, build_application, start, stop
from positionbot.bot.notifier import notice_recipients
from positionbot.bot.scheduler import Timing
from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_rules import SentMessage
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import Market, Trade
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.support.exchange import FAST_RETRY
from tests.support.telegram import (
    CHAT,
    FAST_DELIVERY,
    PUSH_CHAT,
    app_config,
    telegram_config,
)

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
D = Decimal
MARKS = {BTC: D("50000"), ETH: D("3000"), SOL: D("150")}
ORDER_PATHS = ("/fapi/v1/order", "/fapi/v1/algoOrder")


def trading_markets() -> list[Market]:
    """Binance's filters, with a BTC minimum size above its step so both rules can be met."""
    return [replace(m, min_amount=D("0.002")) if m.symbol == BTC else m for m in default_markets()]


class ShiftedClock:
    """Real UTC time plus a shift, so a test can age a pending entry past its timeout."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.shift

    def monotonic(self) -> float:
        """Time that passed, as the tracker's timeouts read it: a shift is time passing."""
        return time.monotonic() + self.shift.total_seconds()


@dataclass
class TradingEnv:
    api: FakeBotApi
    server: BinanceServer
    venue: PaperExchange
    store: Store
    tracker: SimplePositionTracker
    app: App
    clock: ShiftedClock

    async def cycle(self) -> None:
        report = await self.tracker.run_cycle("main")
        assert report.ok, report.errors

    async def command(self, text: str, chat: int = CHAT, user: int | None = None) -> SentMessage:
        before = len(self.api.messages(chat))
        self.api.user_message(chat, text, user)
        await self.api.wait_for_messages(chat, before + 1)
        return self.api.messages(chat)[-1]

    async def press(self, message: SentMessage, label_part: str,
                    user: int | None = None) -> dict[str, Any]:
        data = next(d for text, d in message.buttons if label_part in text)
        query = self.api.press_button(message.chat_id, message.message_id, data, user)
        return await self.api.wait_for_answer(query)

    def current(self, message: SentMessage) -> SentMessage:
        return self.api.message(message.chat_id, message.message_id)

    async def confirm(self, preview: SentMessage) -> SentMessage:
        """Tap Confirm; return the preview as edited with the outcome, after the cycle it runs."""
        assert preview.text.startswith("📝"), preview.text
        cycles = self.tracker.cycles_completed
        await self.press(preview, "✅")
        await self.api.wait_for(lambda: not self.current(preview).text.startswith("📝"))
        outcome = self.current(preview)
        if outcome.text.startswith(("✅ <b>Entry sent", "✅ <b>Close sent")):
            await self.api.wait_for(lambda: self.tracker.cycles_completed > cycles)
        return outcome

    def pushes(self) -> list[str]:
        return [m.text for m in self.api.messages(PUSH_CHAT)]

    async def push(self, *parts: str) -> str:
        """The first push holding every part, waiting for the notifier to deliver it."""
        def found() -> str | None:
            return next((t for t in self.pushes() if all(p in t for p in parts)), None)
        await self.api.wait_for(lambda: found() is not None)
        text = found()
        assert text is not None
        return text

    def orders_sent(self) -> int:
        """Requests that could create or cancel an order (anything but a GET on them)."""
        return sum(n for key, n in self.server.requests.items()
                   if not key.startswith("GET") and key.endswith(ORDER_PATHS))

    def sent(self, path: str, method: str = "POST") -> list[dict[str, str]]:
        return self.server.sent(path, method)


async def make_trading_env(
    api: FakeBotApi, server: BinanceServer, store: Store,
) -> TradingEnv:
    gateway = CcxtGateway("main", "binanceusdm", api_key="k", secret="s",
                           ccxt_config=ccxt_config_for(server.base_url), retry=FAST_RETRY)
    clock = ShiftedClock()
    settings = TrackerSettings(verify_delay=0.0, dust=DustPolicy(D("5")), cycle_timeout=5.0,
                               pending_timeout=timedelta(minutes=60))
    telegram = telegram_config()
    store.recipients = notice_recipients(telegram)
    tracker = SimplePositionTracker(store, {"main": gateway}, settings, clock=clock,
                                    monotonic=clock.monotonic)
    await tracker.start()
    timing = Timing(interval=3600, cycle_timeout=5, watchdog_after=4000, notify_interval=0.05)
    app = build_application(app_config(telegram), tracker, store, base_url=api.base_url,
                            token=api.token, poll_timeout=1, timing=timing,
                            delivery=FAST_DELIVERY)
    await start(app)
    await api.wait_for(lambda: tracker.cycles_completed >= 1)
    return TradingEnv(api, server, server.venue, store, tracker, app, clock)


@pytest.fixture
def venue() -> PaperExchange:
    return PaperExchange(trading_markets(), marks=MARKS)


@pytest.fixture
async def server(venue: PaperExchange) -> AsyncIterator[BinanceServer]:
    async with BinanceServer(venue) as running:
        yield running


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as running:
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@pytest.fixture
async def env(api: FakeBotApi, server: BinanceServer, store: Store) -> AsyncIterator[TradingEnv]:
    trading = await make_trading_env(api, server, store)
    yield trading
    await stop(trading.app)
    await trading.tracker.gateway("main").close()


def only_trade(env: TradingEnv) -> Trade:
    (trade,) = env.tracker.book.active_trades("main")
    return trade


async def place(env: TradingEnv, command: str) -> Trade:
    """Type an entry command, confirm it, and return the pending trade it made."""
    preview = await env.command(command)
    outcome = await env.confirm(preview)
    assert outcome.text.startswith("✅ <b>Entry sent"), outcome.text
    return max(env.tracker.book.active_trades("main"), key=lambda t: t.id)
