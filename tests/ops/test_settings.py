"""The command menu only where the bot may be used, /settings honoured by the notifier, /pause
and monitor-only accounts refusing trades with nothing sent — real PTB against the fake Bot
API, the real tracker over the paper exchange, a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from positionbot.bot.app import build_application, notifier_of, start, stop
from positionbot.bot.config import AccountConfig, AppConfig, NotifyMode, TrackerConfig
from positionbot.bot.notifier import notice_recipients
from positionbot.bot.preferences import ChatPreferences
from positionbot.bot.scheduler import Timing
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets
from tests.support.telegram import (
    BTC,
    CHAT,
    FAST_DELIVERY,
    PUSH_CHAT,
    STRANGER,
    BotEnv,
    D,
    open_position,
    telegram_config,
)


async def _env(api: FakeBotApi, store: Store, *, trading: bool = True) -> BotEnv:
    telegram = telegram_config()
    store.recipients = notice_recipients(telegram)
    exchange = PaperExchange(default_markets(), marks={BTC: D("60000")})
    tracker = SimplePositionTracker(store, {"main": PaperGateway(exchange, "main")},
                                    TrackerSettings(verify_delay=0.0, cycle_timeout=5.0))
    await tracker.start()
    account = AccountConfig(name="main", exchange="binanceusdm", api_key_env="PB_K",
                            secret_env="PB_S", trading=trading)
    config = AppConfig.model_construct(
        telegram=telegram, accounts=[account],
        tracker=TrackerConfig(interval_seconds=3600, cycle_timeout_seconds=5, watchdog_seconds=4000))
    app = build_application(config, tracker, store, base_url=api.base_url, token=api.token,
                            poll_timeout=1, delivery=FAST_DELIVERY,
                            timing=Timing(interval=3600, cycle_timeout=5, watchdog_after=4000,
                                          notify_interval=0.05))
    await start(app)
    await api.wait_for(lambda: tracker.cycles_completed >= 1)
    return BotEnv(api, store, {"main": exchange}, tracker, app)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@pytest.fixture
async def env(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    running = await _env(api, store)
    yield running
    await stop(running.app)


@pytest.fixture
async def monitor_only(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    running = await _env(api, store, trading=False)
    yield running
    await stop(running.app)


async def test_command_menu_is_set_for_allowed_chats_only(env: BotEnv) -> None:
    api = env.api
    await api.wait_for(lambda: len(api.scoped_commands) == 2)
    for chat in (CHAT, PUSH_CHAT):
        names = {c["command"] for c in api.commands_for_chat(chat)}
        assert {"positions", "settings", "pause", "resume"} <= names
    assert set(api.scoped_commands) == {json.dumps({"chat_id": c, "type": "chat"}, sort_keys=True)
                                        for c in (CHAT, PUSH_CHAT)}
    assert api.commands_for_chat(STRANGER) == []  # nothing registered for everyone
    assert api.calls_of("deleteMyCommands")


async def test_settings_toggles_are_stored_and_honoured_by_the_notifier(env: BotEnv) -> None:
    api = env.api
    await api.wait_for(lambda: any("PositionBot started" in m.text for m in api.messages(PUSH_CHAT)))
    menu = await env.command("/settings", PUSH_CHAT)
    assert "Notifications in this chat" in menu.text
    answer = await env.press_labelled(menu, "opened")
    assert answer["text"] == "opened: silent"
    menu = api.message(PUSH_CHAT, menu.message_id)
    answer = await env.press_labelled(menu, "increased")
    answer = await env.press_labelled(api.message(PUSH_CHAT, menu.message_id), "increased")
    assert answer["text"] == "increased: off"
    assert "🔕 opened*" in [label for label, _ in api.message(PUSH_CHAT, menu.message_id).buttons]

    before = len(api.messages(PUSH_CHAT))
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    await api.wait_for_messages(PUSH_CHAT, before + 1)
    opened = api.messages(PUSH_CHAT)[-1]
    assert "Opened" in opened.text and opened.disable_notification is True
    env.exchange.manual_order(BTC, OrderSide.BUY, D("0.01"))
    await env.cycle()
    await notifier_of(env.app).drain()
    assert len(api.messages(PUSH_CHAT)) == before + 1  # "increased" is off here
    assert [m for m in api.messages(PUSH_CHAT) if "Increased" in m.text] == []

    stored = ChatPreferences(telegram_config(), env.store)  # what the next start will read
    await stored.load()
    assert stored.mode_for(PUSH_CHAT, "opened") is NotifyMode.SILENT
    assert stored.mode_for(PUSH_CHAT, "increased") is NotifyMode.OFF
    assert stored.mode_for(CHAT, "opened") is NotifyMode.ON


async def test_pause_refuses_trading_commands_until_resume(env: BotEnv) -> None:
    assert "paused" in (await env.command("/pause")).text.lower()
    reply = await env.command("/long BTC 0.01")
    assert "paused" in reply.text and "nothing was sent" in reply.text
    assert reply.buttons == []
    assert "allowed again" in (await env.command("/resume")).text
    reply = await env.command("/long BTC 0.01")
    assert any("Confirm" in label for label, _ in reply.buttons), reply.text


async def test_trading_off_refuses_long_with_nothing_sent(monitor_only: BotEnv) -> None:
    env = monitor_only
    reply = await env.command("/long BTC 0.01 sl 58000")
    assert "trading is off for main" in reply.text and "nothing was sent" in reply.text
    assert reply.buttons == []
    assert env.exchange.open_orders() == [] and env.exchange.open_stop_orders() == []
    assert env.exchange.fills == []  # (a read of the mark price is all the exchange saw)
