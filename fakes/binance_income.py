"""Binance USDⓈ-M income history and account answers over the paper venue's income ledger.

``GET /fapi/v1/income``: rows of ``{symbol, incomeType, income, asset, info, time, tranId,
tradeId}``, oldest first, at most ``limit`` (default 100, max 1000); without a window, the last
7 days; a window longer than 7 days is refused. ``GET /fapi/v3/account``: the wallet totals and
one entry per asset, every amount a decimal string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from positionbot.fakes.binance_wire import BinanceApiError, Params
from positionbot.tracker.core.models import ZERO, Market
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.income import IncomeType

WEEK_MS = 7 * 24 * 3600 * 1000


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _tran_id(row_id: str) -> int:
    """A number unique per row: the venue's id, with the realized-P&L and commission rows of
    one fill told apart by a last digit."""
    fill, _, part = row_id.partition("-")
    return int(fill) * 10 + {"P": 1, "C": 2}[part] if part else int(fill)


def income(venue: PaperExchange, params: Params, by_id: Mapping[str, Market],
           now_ms: int) -> list[dict[str, Any]]:
    kind = params.optional("incomeType")
    if kind is not None and kind not in {t.value for t in IncomeType}:
        return []  # a type this venue never books (TRANSFER, ...): no rows
    symbol = params.optional("symbol")
    market = by_id.get(symbol) if symbol else None
    if symbol and market is None:
        raise BinanceApiError(-1121, "Invalid symbol.")
    start, end = params.integer("startTime"), params.integer("endTime")
    if start is not None and end is not None and end - start > WEEK_MS:
        raise BinanceApiError(-4166, "Search window is restricted to recent 7 days only.")
    if start is None:
        start = (end or now_ms) - WEEK_MS
    limit = min(params.integer("limit") or 100, 1000)
    rows = [r for r in venue.income.rows(type=IncomeType(kind) if kind else None)
            if start <= _ms(r.at) and (end is None or _ms(r.at) <= end)
            and (market is None or r.symbol == market.symbol)]
    ids = {m.symbol: i for i, m in by_id.items()}
    return [{"symbol": ids[r.symbol], "incomeType": r.type.value, "income": str(r.amount),
             "asset": venue.markets[r.symbol].settle, "info": r.type.value, "time": _ms(r.at),
             "tranId": _tran_id(r.id),
             "tradeId": r.id.split("-")[0] if r.type is not IncomeType.FUNDING_FEE else ""}
            for r in rows[:limit]]


def account(venue: PaperExchange, leverage_of: Callable[[str], int], now_ms: int
            ) -> dict[str, Any]:
    """Wallet = the venue's; margin in use = each position's notional at the mark over its
    leverage; available = wallet + unrealized losses - margin."""
    b = venue.balance()
    unrealized = b.unrealized_pnl or ZERO
    margin = sum((p.notional / Decimal(leverage_of(p.symbol)) for p in venue.positions()), ZERO)
    available = b.wallet + min(unrealized, ZERO) - margin
    asset = {
        "asset": b.currency, "walletBalance": str(b.wallet), "unrealizedProfit": str(unrealized),
        "marginBalance": str(b.wallet + unrealized), "maintMargin": "0",
        "initialMargin": str(margin), "positionInitialMargin": str(margin),
        "openOrderInitialMargin": "0", "crossWalletBalance": str(b.wallet),
        "crossUnPnl": str(unrealized), "availableBalance": str(available),
        "maxWithdrawAmount": str(available), "updateTime": now_ms,
    }
    return {
        "totalInitialMargin": str(margin), "totalMaintMargin": "0",
        "totalWalletBalance": str(b.wallet), "totalUnrealizedProfit": str(unrealized),
        "totalMarginBalance": str(b.wallet + unrealized),
        "totalPositionInitialMargin": str(margin), "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": str(b.wallet), "totalCrossUnPnl": str(unrealized),
        "availableBalance": str(available), "maxWithdrawAmount": str(available),
        "assets": [asset], "positions": [],
    }
