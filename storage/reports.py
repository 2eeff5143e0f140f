"""Read-only queries behind the P&L reports, the CSV export and funding attribution.

Times are stored as fixed-width UTC ISO text, so a period is a plain text range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from positionbot.storage import codec
from positionbot.tracker.core.funding import FUNDING
from positionbot.tracker.core.models import PositionEvent, Trade, TradeStatus
from positionbot.tracker.core.pnl import ClosedTrade, Period, PnlEvent

MAX_EXPORT_ROWS = 100_000
"""An export is one document; beyond this many events the period must be narrowed."""


class Rows(Protocol):
    async def read_rows(self, sql: str, params: Sequence[Any]) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report covers: a period, and optionally one account and one symbol (a unified
    symbol, or a base asset such as ``BTC`` for all its markets)."""

    period: Period
    account: str | None = None
    symbol: str | None = None


def _where(scope: Scope, time_column: str) -> tuple[str, list[Any]]:
    conditions = [f"{time_column} < ?"]
    params: list[Any] = [codec.dt_text(scope.period.end)]
    if scope.period.start is not None:
        conditions.append(f"{time_column} >= ?")
        params.append(codec.dt_text(scope.period.start))
    if scope.account is not None:  # "+": filter, not an index: the time index reads the period
        conditions.append("+t.account = ?")
        params.append(scope.account)
    if scope.symbol is not None and "/" in scope.symbol:
        conditions.append("t.symbol = ?")
        params.append(scope.symbol)
    elif scope.symbol is not None:  # a base asset: every market of it
        conditions.append("substr(t.symbol, 1, ?) = ?")
        params.extend([len(scope.symbol) + 1, scope.symbol + "/"])
    return " AND ".join(conditions), params


async def pnl_events(db: Rows, scope: Scope) -> list[PnlEvent]:
    """Every event inside the scope that realized something (or paid a fee), oldest first."""
    where, params = _where(scope, "e.at")
    rows = await db.read_rows(
        "SELECT e.trade_id, t.account, t.symbol, e.kind, e.at, e.realized_pnl, e.fees "
        f"FROM position_events AS e JOIN trades AS t ON t.id = e.trade_id WHERE {where} "
        "ORDER BY e.at, e.id", params)
    return [PnlEvent(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), Decimal(r[5]),
                     Decimal(r[6])) for r in rows]


async def closed_trades(db: Rows, scope: Scope) -> list[ClosedTrade]:
    """Trades closed inside the scope, with their whole net P&L, oldest close first."""
    where, params = _where(scope, "t.closed_at")
    rows = await db.read_rows(
        "SELECT t.id, t.account, t.symbol, t.closed_at, t.realized_pnl FROM trades AS t "
        f"WHERE t.status = '{TradeStatus.CLOSED.value}' AND {where} ORDER BY t.closed_at, t.id",
        params)
    return [ClosedTrade(r[0], r[1], r[2], datetime.fromisoformat(r[3]), Decimal(r[4]))
            for r in rows]


async def export_rows(db: Rows, scope: Scope) -> list[tuple[Trade, PositionEvent]]:
    """Every event inside the scope with its trade, oldest first (at most ``MAX_EXPORT_ROWS``)."""
    where, params = _where(scope, "e.at")
    trade_cols = ", ".join(f"t.{c}" for c in codec.TRADE_COLUMNS)
    event_cols = ", ".join(f"e.{c}" for c in codec.EVENT_COLUMNS)
    rows = await db.read_rows(
        f"SELECT {trade_cols}, {event_cols} FROM position_events AS e "
        f"JOIN trades AS t ON t.id = e.trade_id WHERE {where} ORDER BY e.at, e.id LIMIT ?",
        [*params, MAX_EXPORT_ROWS + 1])
    n = len(codec.TRADE_COLUMNS)
    return [(codec.trade_from_row(r[:n]), codec.event_from_row(r[n:])) for r in rows]


async def trades_for_funding(db: Rows, account: str, since: datetime) -> list[Trade]:
    """The account's trades that were open at some moment at or after ``since``: the only ones
    a funding payment from then on can belong to."""
    rows = await db.read_rows(
        f"SELECT {', '.join(codec.TRADE_COLUMNS)} FROM trades WHERE account = ? "
        f"AND opened_at IS NOT NULL AND (closed_at IS NULL OR closed_at >= ?) "
        f"AND status IN ('{TradeStatus.OPEN.value}', '{TradeStatus.CLOSED.value}')",
        (account, codec.dt_text(since)))
    return [codec.trade_from_row(r) for r in rows]


async def funding_totals(db: Rows, trade_ids: Sequence[int]) -> dict[int, Decimal]:
    """Funding booked per trade (received minus paid), for the trades that have any."""
    if not trade_ids:
        return {}
    marks = ", ".join("?" for _ in trade_ids)
    rows = await db.read_rows(
        f"SELECT trade_id, realized_pnl FROM position_events WHERE kind = '{FUNDING}' "
        f"AND trade_id IN ({marks})", list(trade_ids))
    totals: dict[int, Decimal] = {}
    for trade_id, amount in rows:
        totals[trade_id] = totals.get(trade_id, Decimal(0)) + Decimal(amount)
    return totals
