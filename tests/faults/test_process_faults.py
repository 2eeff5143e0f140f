"""Faults of the whole ``positionbot run`` process: real ccxt against the local Binance server,
real python-telegram-bot against the local Bot API, a real SQLite file, real signals."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.soak.audit import audit, read_ledger
from tests.soak.bot_process import BotConfig, BotProcess
from tests.soak.soak import COMMAND_CHAT, PUSH_CHAT, TripwireBinance
from tests.soak.trader import BTC, MARKS

pytestmark = pytest.mark.slow  # a real process (or a soak): seconds, not milliseconds

D = Decimal


@dataclass
class Harness:
    exchange: TripwireBinance
    api: FakeBotApi
    workdir: Path
    config: BotConfig

    def bot(self, name: str = "bot", config: BotConfig | None = None) -> BotProcess:
        """A bot process with its own config file and log, on the shared ``state.db``."""
        path = (config or self.config).write(self.workdir / f"{name}.toml")
        return BotProcess(self.workdir, path, self.api.token, name)

    def pushes(self, word: str) -> list[str]:
        return [m.text for m in self.api.messages(PUSH_CHAT) if word in m.text]

    async def wait_for_log(self, bot: BotProcess, text: str, within: float = 20) -> None:
        await self.api.wait_for(lambda: text in bot.log_text(), within=within)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    venue = PaperExchange(default_markets(), marks=MARKS)
    venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    exchange, api = TripwireBinance(venue), FakeBotApi()
    async with exchange, api:
        config = BotConfig(api.base_url, ccxt_config_for(exchange.base_url), COMMAND_CHAT,
                           PUSH_CHAT)
        yield Harness(exchange, api, tmp_path, config)


async def test_a_second_instance_refuses_to_start_and_the_first_carries_on(
    harness: Harness,
) -> None:
    first = harness.bot()
    await first.start()
    try:
        await harness.api.wait_for(lambda: bool(harness.pushes("Opened")), within=30)
        second = harness.bot("second")
        await second.start()
        assert await second.wait() == 2
        message = second.log_text()
        assert f"database {first.database} is in use: another positionbot process (pid " \
               f"{first.process.pid if first.process else '?'})" in message
        assert "Traceback" not in message
        assert len(harness.api.calls_of("getMe")) == 1  # the second never reached Telegram

        harness.exchange.venue.manual_order(BTC, OrderSide.BUY, D("0.005"))
        await harness.api.wait_for(lambda: bool(harness.pushes("Increased")), within=10)
        harness.api.user_message(COMMAND_CHAT, "/positions")
        await harness.api.wait_for(
            lambda: any("0.015" in m.text for m in harness.api.messages(COMMAND_CHAT)))
    finally:
        assert await first.stop() == 0
    with sqlite3.connect(first.database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_cycles_that_never_finish_are_cut_off_and_alerted_by_the_process(
    harness: Harness,
) -> None:

    """Every fetch hangs: each cycle is cut at the cycle time limit (by the runner, the only
    place that applies it), counts as a failure, and three in a row give one alert; the
    recovery is pushed once when the exchange answers again. (Polling only: with a healthy
    user-data stream the poll verifies once a minute and the stream carries the changes.)"""
    bot = harness.bot(config=replace(harness.config, cycle_timeout=1.0, watchdog=4.0,
                                     verify_delay=0.1, stream=False))
    await bot.start()
    try:
        await harness.api.wait_for(lambda: bool(harness.pushes("Opened")), within=30)
        harness.exchange.inject(*[Fault.slow(1.5, "/positionRisk")] * 40)  # every fetch hangs
        await harness.api.wait_for(lambda: bool(harness.pushes("Exchange unreachable")), within=12)
        [alert] = harness.pushes("Exchange unreachable")
        assert "cycle timed out after 1s" in alert
        assert "cycle main FAILED" in bot.log_text()

        harness.exchange.faults.clear()
        harness.exchange.venue.manual_order(BTC, OrderSide.BUY, D("0.005"))
        await harness.api.wait_for(lambda: bool(harness.pushes("Increased")), within=15)
        assert len(harness.pushes("Exchange unreachable")) == 1
        await harness.api.wait_for(lambda: bool(harness.pushes("reachable again")), within=15)
        assert len(harness.pushes("reachable again")) == 1
        assert not harness.pushes("Watchdog")
    finally:
        assert await bot.stop() == 0


async def test_a_stop_placed_just_before_a_kill_is_not_left_behind(harness: Harness) -> None:
    """SIGKILL the moment the exchange accepted the stop a /sl asked for: the answer never
    reaches the bot, nothing records the stop. The next start must not leave it resting."""
    bot = harness.bot()
    await bot.start()
    await harness.api.wait_for(lambda: bool(harness.pushes("Opened")), within=30)
    harness.exchange.tripwire = bot.kill
    harness.api.user_message(COMMAND_CHAT, "/sl BTC 55000")
    assert await bot.wait() < 0
    venue = harness.exchange.venue
    assert [o.trigger_price for o in venue.open_stop_orders()] == [D("55000")]
    assert read_ledger(bot.database).open_trades[0].stop_order_id is None

    await bot.start()
    try:
        await harness.api.wait_for(lambda: venue.open_stop_orders() == [], within=20)
        await harness.wait_for_log(bot, "cancelled leftover stop")
        harness.api.user_message(COMMAND_CHAT, "/sl BTC 55000")
        await harness.api.wait_for(lambda: bool(harness.pushes("Stop loss placed")), within=20)

        def consistent() -> bool:  # one stop, recorded by the trade; every push delivered
            return audit(read_ledger(bot.database), venue.positions(), venue.open_stop_orders(),
                         harness.api.messages(PUSH_CHAT), PUSH_CHAT).ok

        await harness.api.wait_for(consistent, within=10)
        assert len(venue.open_stop_orders()) == 1
    finally:
        assert await bot.stop() == 0
