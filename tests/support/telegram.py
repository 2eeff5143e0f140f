"""The whole bot as a user meets it: real PTB over HTTP against the fake Bot API, the real
tracker over the paper exchange, and a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from positionbot.bot.app import build_application, start, stop
from positionbot.bot.config import AppConfig, TelegramConfig, TrackerConfig
from positionbot.bot.handlers.context import App
from positionbot.bot.notifier import DeliveryPolicy, notice_recipients
from positionbot.bot.scheduler import Timing
from positionbot.fakes.botapi_rules import SentMessage
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import Side
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets

CHAT = 4242  # the trader's private chat: allowed to use commands
PUSH_CHAT = 5151  # where pushes go (also allowed), so command replies never interleave
STRANGER = 6666
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
D = Decimal
FAST_DELIVERY = DeliveryPolicy(chat_interval=0.0, backoff_base=0.05, backoff_cap=0.2,
                               send_timeout=5.0)


def telegram_config(**overrides: Any) -> TelegramConfig:
    values: dict[str, Any] = {"allowed_chats": [CHAT, PUSH_CHAT], "notify_chats": [PUSH_CHAT],
                              "digest_threshold": 5}
    values.update(overrides)
    return TelegramConfig.model_validate(values)


def app_config(telegram: TelegramConfig) -> AppConfig:
    tracker = TrackerConfig(interval_seconds=3600, cycle_timeout_seconds=5,
                            watchdog_seconds=4000)
    return AppConfig.model_construct(telegram=telegram, tracker=tracker, accounts=[])


@dataclass
class BotEnv:
    api: FakeBotApi
    store: Store
    exchanges: dict[str, PaperExchange]
    tracker: SimplePositionTracker
    app: App

    @property
    def exchange(self) -> PaperExchange:
        return self.exchanges["main"]

    async def cycle(self, account: str = "main") -> None:
        report = await self.tracker.run_cycle(account)
        assert report.ok, report.errors

    async def command(self, text: str, chat: int = CHAT) -> SentMessage:
        """Type a command and return the bot's (last) reply."""
        before = len(self.api.messages(chat))
        self.api.user_message(chat, text)
        await self.api.wait_for_messages(chat, before + 1)
        return self.api.messages(chat)[-1]

    async def press(self, message: SentMessage, data: str) -> dict[str, Any]:
        """Press a button under ``message`` and return Telegram's record of the answer."""
        query = self.api.press_button(message.chat_id, message.message_id, data)
        return await self.api.wait_for_answer(query)

    async def press_labelled(self, message: SentMessage, label_part: str) -> dict[str, Any]:
        data = next(d for text, d in message.buttons if label_part in text)
        return await self.press(message, data)


def open_position(exchange: PaperExchange, symbol: str, side: Side, size: str, price: str) -> None:
    exchange.set_mark(symbol, D(price))
    exchange.open_position(symbol, side, D(size), D(price))


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@pytest.fixture
async def ptb_bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A bare PTB Bot on the fake server, for driving the notifier directly."""
    bot = Bot(api.token, base_url=api.base_url)
    async with bot:
        yield bot


async def make_env(
    api: FakeBotApi, store: Store, *, accounts: tuple[str, ...] = ("main",),
    telegram: TelegramConfig | None = None, timing: Timing | None = None,
    gateway_type: type[PaperGateway] = PaperGateway,
) -> BotEnv:
    exchanges = {a: PaperExchange(default_markets(), marks={BTC: D("60000"), ETH: D("3000")})
                 for a in accounts}
    gateways = {a: gateway_type(exchanges[a], account=a) for a in accounts}
    settings = TrackerSettings(verify_delay=0.0, dust=DustPolicy(D("5")),
                               cycle_timeout=timing.cycle_timeout if timing else 5.0)
    telegram = telegram or telegram_config()
    store.recipients = notice_recipients(telegram)
    tracker = SimplePositionTracker(store, gateways, settings)
    await tracker.start()
    timing = timing or Timing(interval=3600, cycle_timeout=5, watchdog_after=4000,
                              notify_interval=0.05)
    app = build_application(app_config(telegram), tracker, store, base_url=api.base_url,
                            token=api.token, poll_timeout=1, timing=timing,
                            delivery=FAST_DELIVERY)
    await start(app)
    await api.wait_for(lambda: tracker.cycles_completed >= len(accounts))
    return BotEnv(api, store, exchanges, tracker, app)


@pytest.fixture
async def env(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    bot_env = await make_env(api, store)
    yield bot_env
    await stop(bot_env.app)
