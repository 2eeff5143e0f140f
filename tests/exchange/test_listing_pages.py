"""A large book is read whole: the listing page cap is far above what a real account holds,
yet a listing that never ends is still refused."""

from __future__ import annotations

from typing import Any

import pytest

from positionbot.tracker.engine.ports import TransientExchangeError
from positionbot.tracker.exchange.ccxt.dialect_base import LISTING_MAX_PAGES
from positionbot.tracker.exchange.ccxt.dialect_bybit import Bybit
from positionbot.tracker.exchange.ccxt.dialect_okx import Okx


def _bybit_pages(total: int) -> Any:
    """Bybit's stop listing: 50 a page, ``nextPageCursor`` on every row of a non-final page."""

    async def fetch(params: dict[str, Any]) -> list[Any]:
        start = int(params.get("cursor") or 0)
        end = min(start + params["limit"], total)
        cursor = str(end) if end < total else ""
        return [{"id": str(i), "info": {"nextPageCursor": cursor}} for i in range(start, end)]
    return fetch


def _okx_pages(total: int) -> Any:
    """OKX's algo listing: 100 a page, newest first, older ones ``after`` the last algoId."""

    async def fetch(params: dict[str, Any]) -> list[Any]:
        below = int(params.get("after", total))
        ids = range(below - 1, max(below - 100, 0) - 1, -1)
        return [{"id": str(i), "info": {"algoId": str(i)}} for i in ids]
    return fetch


async def test_six_thousand_stops_on_bybit_are_listed_whole() -> None:
    rows = await Bybit().collect("stops", _bybit_pages(6_000), {})
    assert [r["id"] for r in rows] == [str(i) for i in range(6_000)]  # 120 pages


async def test_twelve_thousand_stops_on_okx_are_listed_whole() -> None:
    rows = await Okx().collect("stops", _okx_pages(12_000), {})
    assert len({r["id"] for r in rows}) == 12_000  # 120 pages


async def test_a_listing_that_never_ends_is_refused_not_followed_for_ever() -> None:
    with pytest.raises(TransientExchangeError, match=f"more than {LISTING_MAX_PAGES} pages"):
        await Bybit().collect("stops", _bybit_pages(50 * (LISTING_MAX_PAGES + 1)), {})
