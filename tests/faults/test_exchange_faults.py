"""Exchange faults through the whole chain: real ccxt against the local Binance server, the real
tracker and SQLite file, and the notifier delivering to the local Bot API.

Each fault class runs an outage long enough to alert: every failed cycle changes nothing and
costs a bounded number of requests; the third failure queues exactly one "unreachable" alert;
a change made by hand during the outage is applied exactly once after it, together with exactly
one "recovered" push; and the chat receives precisely those pushes, in that order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from positionbot.bot.config import TelegramConfig
from positionbot.bot.notifier import DeliveryPolicy, Notifier
from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import OrderSide, TradeStatus
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from positionbot.tracker.exchange.paper import PaperExchange, default_markets

D = Decimal
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
POSITIONS = "/positionRisk"
CHAT = 5151
ACCOUNT = "main"
RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, call_timeout=0.25)
ALERT_AFTER = 3
FAILED_CYCLES = ALERT_AFTER + 1  # one past the alert: still exactly one alert


@dataclass
class Chain:
    server: BinanceServer
    venue: PaperExchange
    store: Store
    tracker: SimplePositionTracker
    notifier: Notifier
    api: FakeBotApi

    async def cycle(self) -> CycleReport:
        return await self.tracker.run_cycle(ACCOUNT)

    async def outbox(self) -> list[tuple[str, str]]:
        """(kind, status) of every outbox row but the startup summary, oldest first."""
        with sqlite3.connect(self.store.path) as db:
            return [(str(kind), str(status)) for kind, status in db.execute(
                "SELECT kind, status FROM notifications WHERE kind != 'startup' ORDER BY id")]

    def headlines(self) -> list[str]:
        return [m.text.split("\n")[0] for m in self.api.messages(CHAT)
                if "started" not in m.text]


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[Chain]:
    venue = PaperExchange(default_markets(), marks={BTC: D("60000"), ETH: D("3000")})
    async with BinanceServer(venue) as server, FakeBotApi() as api:
        gateway = CcxtGateway(ACCOUNT, "binanceusdm", api_key="key", secret="secret",
                              ccxt_config=ccxt_config_for(server.base_url), retry=RETRY)
        store = await Store.open(tmp_path / "state.db", recipients=fixed_recipients([CHAT]))
        settings = TrackerSettings(verify_delay=0.05, alert_after_failures=ALERT_AFTER,
                                   dust=DustPolicy(D("5")))
        tracker = SimplePositionTracker(store, {ACCOUNT: gateway}, settings, utc_now,
                                        asyncio.sleep)
        await tracker.start()
        telegram = TelegramConfig.model_validate(  # one message per push: no digest here
            {"allowed_chats": [CHAT], "notify_chats": [CHAT], "digest_threshold": 50})
        bot = Bot(api.token, base_url=api.base_url)
        async with bot:
            notifier = Notifier(bot, store, telegram, policy=DeliveryPolicy(
                chat_interval=0, backoff_base=0.05, backoff_cap=0.1, send_timeout=5))
            yield Chain(server, venue, store, tracker, notifier, api)
        await gateway.close()
        await store.close()


def _mangle(field: str, value: Any) -> Callable[[Any], Any]:
    """A positions payload whose rows carry an unreadable ``field``."""
    return lambda rows: [{**row, field: value} for row in rows]


OUTAGES: dict[str, tuple[Callable[[], Fault], int]] = {
    # name: (the fault one request meets, requests per failed cycle)
    "5xx": (lambda: Fault.server_error(POSITIONS, status=503), RETRY.attempts),
    "429": (lambda: Fault.rate_limited(POSITIONS), RETRY.attempts),
    "timeout": (lambda: Fault.slow(RETRY.call_timeout + 0.25, POSITIONS), RETRY.attempts),
    "truncated": (lambda: Fault.truncated(POSITIONS), RETRY.attempts),
    # Read but unreadable: not retried within the cycle (the next cycle asks again).
    "malformed": (lambda: Fault.rewrite(_mangle("positionAmt", "1e+"), POSITIONS), 1),
    "auth": (lambda: Fault.auth_error(POSITIONS), 1),
}


@pytest.mark.parametrize("name", list(OUTAGES))
async def test_an_outage_changes_nothing_alerts_once_and_recovers_once(
    chain: Chain, name: str,
) -> None:
    fault, per_cycle = OUTAGES[name]
    chain.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    chain.venue.manual_order(ETH, OrderSide.SELL, D("0.100"))
    assert (await chain.cycle()).ok
    chain.venue.manual_order(BTC, OrderSide.SELL, D("0.010"), reduce_only=True)  # during it

    for failure in range(1, FAILED_CYCLES + 1):
        chain.server.inject(*[fault() for _ in range(per_cycle)])
        before = chain.server.count(POSITIONS)
        report = await chain.cycle()
        assert not report.ok and report.changes == ()
        assert chain.server.count(POSITIONS) - before == per_cycle  # bounded, as configured
        assert chain.tracker.book.sync_state(ACCOUNT).consecutive_failures == failure
        assert {t.symbol for t in chain.tracker.book.active_trades()} == {BTC, ETH}
        await chain.notifier.drain()
    assert len(chain.server.faults) == 0

    recovered = await chain.cycle()
    assert recovered.ok and [c.kind.value for c in recovered.changes] == ["closed"]
    assert (await chain.cycle()).changes == ()
    await chain.notifier.drain()

    assert await chain.outbox() == [
        ("opened", "sent"), ("opened", "sent"), ("exchange_unreachable", "sent"),
        ("closed", "sent"), ("exchange_recovered", "sent")]
    assert [line.split("</b>")[0] for line in chain.headlines()] == [
        "🆕 <b>Opened", "🆕 <b>Opened", "🔌 <b>Exchange unreachable", "🏁 <b>Closed",
        "🔗 <b>Exchange reachable again"]
    assert [t.symbol for t in chain.tracker.book.active_trades()] == [ETH]
    closed = (await chain.store.list_trades(statuses=[TradeStatus.CLOSED]))[0]
    assert [e.kind for e in await chain.store.events_for_trade(closed.id)] == ["opened", "closed"]


SHORT_LISTS: dict[str, Callable[[], Fault]] = {
    "empty": lambda: Fault.empty_list(POSITIONS),
    "partial": lambda: Fault.rewrite(lambda rows: [r for r in rows if r["symbol"] == "ETHUSDT"],
                                     POSITIONS),
    "wrong shape": lambda: Fault.rewrite(lambda _rows: {"rows": "?"}, POSITIONS),  # ccxt: []
}


@pytest.mark.parametrize("payload", list(SHORT_LISTS))
async def test_a_transient_short_position_list_closes_nothing(chain: Chain, payload: str) -> None:
    chain.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    chain.venue.manual_order(ETH, OrderSide.SELL, D("0.100"))
    assert (await chain.cycle()).ok
    chain.server.inject(SHORT_LISTS[payload]())

    report = await chain.cycle()

    if payload == "wrong shape":  # unreadable: a glitch that fails the cycle, never a close
        assert not report.ok and "expected a list" in report.errors[0]
    else:
        assert report.ok and report.verified
    assert report.changes == ()
    assert {t.symbol for t in chain.tracker.book.active_trades()} == {BTC, ETH}
    await chain.notifier.drain()
    assert await chain.outbox() == [("opened", "sent"), ("opened", "sent")]


async def test_a_key_revoked_mid_run_then_restored(chain: Chain) -> None:
    """Not a scripted fault: the server itself starts refusing the key, then accepts it again."""
    chain.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    assert (await chain.cycle()).ok
    chain.server.bad_api_keys.add("key")
    chain.venue.manual_order(BTC, OrderSide.BUY, D("0.005"))
    reports = [await chain.cycle() for _ in range(FAILED_CYCLES)]
    assert all(not r.ok and "authentication failed" in r.errors[0] for r in reports)
    assert chain.tracker.book.active_trades()[0].size == D("0.010")
    chain.server.bad_api_keys.clear()

    report = await chain.cycle()

    assert [c.kind.value for c in report.changes] == ["increased"]
    await chain.notifier.drain()
    assert [k for k, _ in await chain.outbox()] == [
        "opened", "exchange_unreachable", "increased", "exchange_recovered"]
    assert "authentication failed" in chain.api.messages(CHAT)[-3].text
