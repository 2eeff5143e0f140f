"""Small builders for domain objects in unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from positionbot.tracker.core.models import (
    Fill,
    OrderSide,
    Position,
    Side,
    Source,
    Trade,
    TradeStatus,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def trade(
    id: int = 1, symbol: str = "BTC/USDT:USDT", side: Side = Side.LONG, size: str = "1",
    avg: str = "100", status: TradeStatus = TradeStatus.OPEN, **kw: object,
) -> Trade:
    base = Trade(id, "acct", symbol, side, status, Source.EXTERNAL, size=D(size),
                 avg_entry_price=D(avg), created_at=T0, opened_at=T0)
    from dataclasses import replace

    return replace(base, **kw)  # type: ignore[arg-type]


def pos(symbol: str = "BTC/USDT:USDT", side: Side = Side.LONG, size: str = "1",
        entry: str = "100", mark: str | None = "100", cs: str = "1") -> Position:
    return Position(symbol, side, D(size), D(entry), D(mark) if mark else None, contract_size=D(cs))


_seq = iter(range(1, 10**9))


def fill(side: OrderSide, amount: str, price: str, fee: str = "0", secs: int = 0,
         symbol: str = "BTC/USDT:USDT", position_side: Side | None = None,
         id: str | None = None) -> Fill:
    n = next(_seq)
    return Fill(id or f"f{n}", f"o{n}", symbol, side, D(amount), D(price), D(fee),
                T0 + timedelta(seconds=secs), position_side)
