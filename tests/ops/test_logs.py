"""Logs an operator can alert on: cycle lines with structured fields, failed cycles at WARNING,
alerts at ERROR, and a flood of like warnings collapsed into one line with a count."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from positionbot.bot.logging_setup import RepeatCollapsingFilter, setup_logging
from positionbot.storage.store import Store
from positionbot.tracker.core.models import Side
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets

BTC = "BTC/USDT:USDT"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    setup_logging("INFO", "json", stream)
    yield stream
    setup_logging("WARNING", "text")


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_cycle_lines_carry_fields_and_alerts_are_errors(tmp_path: Path, json_log: io.StringIO) -> None:
    exchange = PaperExchange(default_markets(), marks={BTC: Decimal("60000")})
    exchange.open_position(BTC, Side.LONG, Decimal("0.01"), Decimal("60000"))
    store = await Store.open(tmp_path / "state.db")
    tracker = SimplePositionTracker(store, {"main": PaperGateway(exchange, "main")},
                                    TrackerSettings(verify_delay=0, alert_after_failures=2))
    try:
        await tracker.start()
        assert (await tracker.run_cycle("main")).ok
        exchange.inject("auth", "auth")
        for _ in range(2):
            assert not (await tracker.run_cycle("main")).ok
    finally:
        await store.close()
    lines = _lines(json_log)
    cycles = [line for line in lines if line["msg"].startswith("cycle main")]
    # the second failed cycle, like the first but for numbers, is collapsed for a minute
    assert [c["level"] for c in cycles] == ["INFO", "WARNING"]
    assert cycles[0]["account"] == "main" and cycles[0]["changes"] == 1
    assert isinstance(cycles[0]["cycle_ms"], int) and cycles[0]["calls"] >= 1
    assert cycles[0]["error_kind"] is None and cycles[1]["error_kind"] == "permanent"
    alerts = [line for line in lines if line["msg"].startswith("alert:")]
    assert len(alerts) == 1 and alerts[0]["level"] == "ERROR" and alerts[0]["account"] == "main"


def test_like_warnings_collapse_into_one_line_with_a_count() -> None:
    now = [0.0]
    collapse = RepeatCollapsingFilter(window=60, clock=lambda: now[0])
    logger = logging.getLogger("apscheduler.executors.default")
    template = ('Execution of job "cycle:main (trigger: interval[0:00:15], next run at: '
                '2026-12-03 14:%02d:00 UTC)" skipped: maximum number of running instances reached (%d)')

    def passes(minute: int, level: int = logging.WARNING) -> logging.LogRecord | None:
        record = logger.makeRecord(logger.name, level, __file__, 1, template, (minute, 1), None)
        return record if collapse.filter(record) else None

    assert passes(0) is not None
    for minute in range(1, 6):
        now[0] += 5
        assert passes(minute) is None
    assert passes(7, logging.ERROR) is not None  # errors are never swallowed
    now[0] += 60
    resumed = passes(9)
    assert resumed is not None
    assert resumed.getMessage().endswith("(and 5 like it in the last 60s)")
    assert "14:09:00" in resumed.getMessage()
