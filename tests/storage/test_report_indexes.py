"""The report queries read a period through an index, and migration 5 adds those indexes to an
existing database without touching its records."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from positionbot.storage import SCHEMA_VERSION, Store, reports
from positionbot.storage.schema import MIGRATIONS
from positionbot.tracker.core.models import TradeStatus
from positionbot.tracker.core.pnl import Period

FIRST_WITH_INDEXES = 5
JAN, FEB = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


class Explain:
    """Runs each report query as ``EXPLAIN QUERY PLAN`` on a real SQLite file and keeps the
    plan: what the planner does with exactly the SQL the reports send."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.plans: list[str] = []

    async def read_rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with sqlite3.connect(self.path) as db:
            rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", list(params)).fetchall()
        self.plans.append("\n".join(str(r[-1]) for r in rows))
        return []


def _database(path: Path, version: int) -> None:
    with sqlite3.connect(path) as raw:
        for number, statements in enumerate(MIGRATIONS[:version], start=1):
            for statement in statements:
                raw.execute(statement)
            raw.execute(f"PRAGMA user_version = {number}")
        for trade_id, status, closed in ((1, "position_closed", "2026-01-10T08:00:00.000000+00:00"),
                                         (2, "position_opened", None)):
            raw.execute(
                "INSERT INTO trades (id, account, symbol, side, status, source, "
                "current_position_size, avg_entry_price, realized_pnl, fees, contract_size, "
                "opened_at, closed_at) VALUES (?, 'main', 'BTC/USDT:USDT', 'long', ?, 'bot', "
                "'1', '100', '5', '0.1', '1', '2026-01-09T08:00:00.000000+00:00', ?)",
                (trade_id, status, closed))
            raw.execute(
                "INSERT INTO position_events (trade_id, seq, kind, size_before, size_after, "
                "price, realized_pnl, fees, estimated, at) VALUES (?, 1, 'close', '1', '0', "
                "'105', '5', '0.1', 0, '2026-01-10T08:00:00.000000+00:00')", (trade_id,))


@pytest.mark.parametrize("scope", [
    reports.Scope(Period("january", JAN, FEB)),
    reports.Scope(Period("all", None, FEB)),
    reports.Scope(Period("january", JAN, FEB), account="main"),
    reports.Scope(Period("january", JAN, FEB), symbol="BTC"),
], ids=["period", "all time", "one account", "one asset"])
async def test_report_queries_read_the_period_through_an_index(tmp_path: Path,
                                                               scope: reports.Scope) -> None:
    path = tmp_path / "current.db"
    _database(path, SCHEMA_VERSION)
    explain = Explain(path)
    await reports.pnl_events(explain, scope)
    await reports.export_rows(explain, scope)
    await reports.closed_trades(explain, scope)
    events, export, closed = explain.plans
    for plan in (events, export):
        assert "USING INDEX position_events_by_time" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # ordered by the index: no sort
    assert "USING INDEX trades_by_status_closed" in closed, closed
    assert "TEMP B-TREE" not in closed, closed


async def test_before_the_migration_the_same_queries_scan_the_events(tmp_path: Path) -> None:
    """The assertion above can fail: without the indexes the plan is a scan and a sort."""
    path = tmp_path / "old.db"
    _database(path, FIRST_WITH_INDEXES - 1)
    explain = Explain(path)
    await reports.pnl_events(explain, reports.Scope(Period("january", JAN, FEB)))
    assert "position_events_by_time" not in explain.plans[0]
    assert "TEMP B-TREE" in explain.plans[0]


async def test_migration_adds_the_indexes_and_keeps_the_records(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _database(path, FIRST_WITH_INDEXES - 1)
    store = await Store.open(path)
    try:
        scope = reports.Scope(Period("january", JAN, FEB))
        events = await store.read_rows(
            "SELECT trade_id, kind, realized_pnl FROM position_events ORDER BY id", ())
        closed = await reports.closed_trades(store, scope)
        pnl = await reports.pnl_events(store, scope)
        (still_open,) = await store.load_active_trades("main")
        (done,) = await store.list_trades(statuses=(TradeStatus.CLOSED,))
    finally:
        await store.close()
    assert [tuple(r) for r in events] == [(1, "close", "5"), (2, "close", "5")]
    assert [(c.trade_id, c.net) for c in closed] == [(1, Decimal("5"))]
    assert [e.trade_id for e in pnl] == [1, 2]
    assert (still_open.id, done.id) == (2, 1)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"position_events_by_time", "trades_by_status_closed"} <= names
