"""Paging through an account's fills with ccxt's ``fetch_my_trades``.

Binance answers at most 1000 trades per request and one week per time window, so a gap longer
than a week is walked window by window, and a full page is continued: on Binance by trade id
(``fromId``, exact even when a thousand fills share a millisecond), elsewhere by timestamp.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from positionbot.tracker.core.models import Fill
from positionbot.tracker.exchange.ccxt.normalize import Malformed, is_binance, normalize_fill

log = logging.getLogger(__name__)

FILL_PAGE = 1000
FILL_MAX_PAGES = 50
FILL_WINDOW_MS = 7 * 24 * 3600 * 1000

# (since in ms or None, params) -> one page of ccxt trades
FetchPage = Callable[[int | None, dict[str, Any]], Awaitable[Any]]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def collect_fills(fetch_page: FetchPage, since: datetime, settle: str, exchange_id: str,
                        what: str) -> list[Fill]:
    """Every fill at or after ``since``, oldest first, in at most ``FILL_MAX_PAGES`` requests."""
    fills: dict[str, Fill] = {}
    start: int | None = _ms(since)
    params: dict[str, Any] = {}
    for _ in range(FILL_MAX_PAGES):
        if start is not None:
            window_end = start + FILL_WINDOW_MS
            params = {"until": window_end} if window_end < _ms(datetime.now(UTC)) else {}
        page = await fetch_page(start, params)
        if not isinstance(page, list):
            raise Malformed(f"{what}: expected a list of trades, got {type(page).__name__}")
        for raw in page:
            fill = normalize_fill(raw, settle, exchange_id)
            fills.setdefault(fill.id, fill)
        if len(page) >= FILL_PAGE:
            start, params = _next_page(page, start, exchange_id)
        elif "until" in params:
            start = params["until"] + 1
        else:
            return _oldest_first(fills)
    log.warning("%s: more than %d pages of fills since %s; later fills are not included",
                what, FILL_MAX_PAGES, since.isoformat())
    return _oldest_first(fills)


def _next_page(page: list[Any], start: int | None,
               exchange_id: str) -> tuple[int | None, dict[str, Any]]:
    if is_binance(exchange_id):
        return None, {"fromId": max(int(raw["id"]) for raw in page) + 1}
    last = max(int(raw["timestamp"]) for raw in page)
    return (last if start is None or last > start else last + 1), {}


def _oldest_first(fills: dict[str, Fill]) -> list[Fill]:
    """By time; fills of one millisecond keep the exchange's own order (a stable sort)."""
    return sorted(fills.values(), key=lambda fill: fill.timestamp)
