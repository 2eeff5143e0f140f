"""Number precision comes from markets, which must never hold a message back."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from positionbot.bot.markets_cache import MarketsCache
from positionbot.tracker.core.models import Market
from positionbot.tracker.exchange.paper import default_markets

MARKETS = {m.symbol: m for m in default_markets()}


async def test_loads_once_and_backs_off_after_a_failure() -> None:
    calls: list[str] = []
    down = True

    async def load(account: str) -> Mapping[str, Market]:
        calls.append(account)
        if down:
            raise ConnectionError("exchange down")
        return MARKETS

    now = [100.0]
    cache = MarketsCache(load, retry_after=60, monotonic=lambda: now[0])
    assert await cache.get("main") == {}
    down = False
    now[0] += 59.9
    assert await cache.get("main") == {}  # inside the back-off: not even tried
    assert calls == ["main"]
    now[0] += 0.2
    assert await cache.get("main") is MARKETS
    assert await cache.get("main") is MARKETS
    assert calls == ["main", "main"]


async def test_a_slow_exchange_is_not_waited_for() -> None:
    async def hang(_: str) -> Mapping[str, Market]:
        await asyncio.sleep(10)
        return MARKETS

    cache = MarketsCache(hang, timeout=0.05)
    assert await asyncio.wait_for(cache.get("main"), 1) == {}
