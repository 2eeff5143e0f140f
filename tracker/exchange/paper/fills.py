"""The paper exchange's fill history: bounded, indexed by symbol, with running P&L and fee totals.

Totals cover every fill ever booked, even those already evicted from the bounded history.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from decimal import Decimal

from positionbot.tracker.core.models import ZERO, Fill


class FillLog:
    def __init__(self, max_fills: int) -> None:
        if max_fills < 1:
            raise ValueError("max_fills must be at least 1")
        self._max_fills = max_fills
        self._fills: deque[Fill] = deque()
        self._by_symbol: dict[str, deque[Fill]] = {}
        self._realized: dict[str, Decimal] = {}
        self._fees: dict[str, Decimal] = {}

    def add(self, fill: Fill, realized_pnl: Decimal) -> None:
        if len(self._fills) >= self._max_fills:
            evicted = self._fills.popleft()
            self._by_symbol[evicted.symbol].popleft()
        self._fills.append(fill)
        self._by_symbol.setdefault(fill.symbol, deque()).append(fill)
        self._realized[fill.symbol] = self._realized.get(fill.symbol, ZERO) + realized_pnl
        self._fees[fill.symbol] = self._fees.get(fill.symbol, ZERO) + fill.fee

    def all(self) -> list[Fill]:
        return list(self._fills)

    def since(self, symbol: str, since: datetime) -> list[Fill]:
        """Kept fills on ``symbol`` stamped at or after ``since``, oldest first."""
        return [fill for fill in self._by_symbol.get(symbol, ()) if fill.timestamp >= since]

    def realized_pnl(self, symbol: str | None) -> Decimal:
        if symbol is not None:
            return self._realized.get(symbol, ZERO)
        return sum(self._realized.values(), ZERO)

    def fees(self, symbol: str | None) -> Decimal:
        if symbol is not None:
            return self._fees.get(symbol, ZERO)
        return sum(self._fees.values(), ZERO)
