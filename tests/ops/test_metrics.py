"""/metrics parsed back with prometheus-client's parser and /healthz turning 503 when cycles
stop, on the real tracker over the paper exchange and a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from positionbot.bot.metrics import BotMetrics, MetricsServer
from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.models import PositionSnapshot, Side
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets

BTC = "BTC/USDT:USDT"


class HangingGateway(PaperGateway):
    """The paper gateway, whose position fetch can be made to hang for ever."""

    hang = False

    async def fetch_positions(self) -> PositionSnapshot:
        if self.hang:
            await asyncio.Event().wait()
        return await super().fetch_positions()


@dataclass
class Running:
    gateway: HangingGateway
    metrics: BotMetrics
    url: str

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(self.url + path) as reply:
            return reply.status, await reply.text()

    async def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, text = await self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    exchange = PaperExchange(default_markets(), marks={BTC: Decimal("60000")})
    exchange.open_position(BTC, Side.LONG, Decimal("0.01"), Decimal("60000"))
    gateway = HangingGateway(exchange, "main")
    store = await Store.open(tmp_path / "state.db", recipients=fixed_recipients([1]))
    tracker = SimplePositionTracker(store, {"main": gateway},
                                    TrackerSettings(verify_delay=0, cycle_timeout=0.3))
    await tracker.start()
    metrics = BotMetrics(tracker, store, watchdog_after=1.0)
    server = MetricsServer(metrics, "127.0.0.1:0")
    await server.start()

    async def cycles() -> None:
        while True:
            await tracker.run_cycle("main")
            await asyncio.sleep(0.05)

    loop = asyncio.create_task(cycles())
    try:
        yield Running(gateway, metrics, f"http://127.0.0.1:{server.port}")
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        await server.stop()
        await store.close()


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_parse_and_counters_move_with_cycles(running: Running) -> None:
    await asyncio.sleep(0.3)
    first = await running.samples()
    await asyncio.sleep(0.4)
    second = await running.samples()
    ok = "positionbot_cycles_total"
    before, after = (_value(s, ok, account="main", result="ok") for s in (first, second))
    assert after > before >= 1
    assert (_value(second, "positionbot_cycle_duration_seconds_count", account="main")
            == _value(second, ok, account="main", result="ok"))
    assert _value(second, "positionbot_exchange_requests_total", account="main") > 0
    assert _value(second, "positionbot_open_trades", account="main") == 1
    assert _value(second, "positionbot_outbox_backlog") >= 1  # the startup and opened pushes wait
    assert _value(second, "positionbot_outbox_oldest_age_seconds") >= 0
    assert _value(second, "positionbot_stream_followed", account="main") == 0
    assert _value(second, "positionbot_healthy") == 1


async def test_healthz_is_200_while_cycles_run_and_503_once_they_hang(running: Running) -> None:
    await asyncio.sleep(0.3)
    status, body = await running.get("/healthz")
    assert status == 200, body
    assert json.loads(body)["accounts"]["main"]["ok"] is True

    running.gateway.hang = True
    await asyncio.sleep(1.5)  # past the 1 s watchdog bound: every cycle since timed out
    status, body = await running.get("/healthz")
    verdict = json.loads(body)
    assert status == 503, body
    assert verdict["status"] == "failing"
    assert verdict["accounts"]["main"] == {**verdict["accounts"]["main"], "ok": False, "last_cycle_ok": False}
    samples = await running.samples()
    assert _value(samples, "positionbot_exchange_errors_total", account="main", kind="timeout") >= 1
    assert _value(samples, "positionbot_healthy") == 0

    running.gateway.hang = False
    await asyncio.sleep(0.6)
    status, body = await running.get("/healthz")
    assert status == 200, body
