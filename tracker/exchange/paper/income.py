"""The paper exchange's income ledger: realized P&L, commissions and funding, like Binance's
``/fapi/v1/income``, bounded, with running totals that survive eviction."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from positionbot.tracker.core.models import ZERO, Side
from positionbot.tracker.exchange.paper.ledger import Leg


class IncomeType(StrEnum):
    REALIZED_PNL = "REALIZED_PNL"
    COMMISSION = "COMMISSION"
    FUNDING_FEE = "FUNDING_FEE"


@dataclass(frozen=True, slots=True)
class Income:
    """One ledger row; ``amount`` is signed (a commission is negative)."""

    id: str
    symbol: str
    type: IncomeType
    amount: Decimal
    at: datetime
    position_side: Side | None = None


class IncomeLedger:
    def __init__(self, max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self._max_rows = max_rows
        self._rows: deque[Income] = deque()
        self.total = ZERO  # every row ever booked, evicted ones included
        self._funding_ids = itertools.count(900_000_001)

    def add(self, row: Income) -> None:
        if len(self._rows) >= self._max_rows:
            self._rows.popleft()
        self._rows.append(row)
        self.total += row.amount

    def rows(self, since: datetime | None = None, until: datetime | None = None,
             type: IncomeType | None = None) -> list[Income]:
        """Kept rows in ``[since, until)``, oldest first."""
        return [r for r in self._rows if (since is None or r.at >= since)
                and (until is None or r.at < until) and (type is None or r.type is type)]


    def book_funding(self, symbol: str, legs: list[tuple[Side, Leg]], mark: Decimal,
                     contract_size: Decimal, rate: Decimal, at: datetime, hedge: bool
                     ) -> list[Income]:
        """One funding row per open leg: ``size * contract_size * mark * rate``, paid by longs
        and received by shorts when ``rate`` is positive."""
        rows = []
        for side, leg in legs:
            amount = leg.size * contract_size * mark * rate
            rows.append(Income(str(next(self._funding_ids)), symbol, IncomeType.FUNDING_FEE,
                               -amount if side is Side.LONG else amount, at,
                               side if hedge else None))
        for row in rows:
            self.add(row)
        return rows
