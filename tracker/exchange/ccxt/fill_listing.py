"""Fills of many symbols from one listing of the account's fills, where the exchange has one.

Bybit's ``/v5/execution/list`` and OKX's ``/api/v5/trade/fills-history`` take no symbol and
answer every symbol's fills, newest first; Binance's ``/fapi/v1/userTrades`` needs a symbol, so
there this answers None and fills stay per symbol. At most ``LISTING_PAGES`` pages are read:
the listing is complete from the oldest moment they reach, and a symbol whose fills are
needed from before that is still fetched on its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from positionbot.tracker.core.models import Fill, Market
from positionbot.tracker.engine.ports import FillListing
from positionbot.tracker.exchange.ccxt.dialects import Dialect, fill_order_key
from positionbot.tracker.exchange.ccxt.normalize import Malformed

LISTING_PAGES = 3

Call = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def fetch_fills_listing(exchange: Any, call: Call, dialect: Dialect, exchange_id: str,
                              markets: Mapping[str, Market], hedge: bool,
                              symbols: Sequence[str], since: datetime) -> FillListing | None:
    wanted = {s: markets[s] for s in dict.fromkeys(symbols)
              if s in markets and s in exchange.markets
              and dialect.listed_together(exchange.markets[s])}
    if len(wanted) < 2:
        return None

    async def fetch_trades(start: int | None, limit: int | None, params: dict[str, Any]) -> Any:
        page = await call("fetch fills of every symbol", lambda: exchange.fetch_my_trades(
            None, start, limit, params))
        if not isinstance(page, list):
            raise Malformed(f"fetch fills: expected a list of trades, got {type(page).__name__}")
        return page

    found = await dialect.recent_trades(fetch_trades, int(since.timestamp() * 1000),
                                        int(time.time() * 1000), LISTING_PAGES)
    if found is None:
        return None
    raws, complete_ms = found
    fills: dict[str, dict[str, Fill]] = {symbol: {} for symbol in wanted}
    for raw in sorted(raws, key=fill_order_key):
        market = wanted.get(str(raw.get("symbol")))
        if market is None:
            continue
        fill = dialect.fill(raw, market.settle, exchange_id, hedge)
        if fill.timestamp >= since:
            fills[market.symbol].setdefault(fill.id, fill)
    return FillListing({symbol: list(by_id.values()) for symbol, by_id in fills.items()},
                       datetime.fromtimestamp(complete_ms / 1000, UTC))
