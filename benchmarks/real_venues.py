"""What the real-path benchmark needs per exchange beyond Binance: the fake, ccxt's settings and
a floor that replays the requests a cycle really sent.

Binance keeps its own long-standing code path (``real_server.BenchServer``, ``real_bot.Floor``);
Bybit v5 and OKX v5 page their listings (Bybit 200 positions and 50 orders a page, OKX 100
algo orders a page), so their floor is not a fixed pair of paths: it re-sends every GET the
last cycle made, with aiohttp and ``json.loads`` only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from positionbot.fakes import bybit_server, okx_server

BINANCE = "binanceusdm"
PASSWORD = "bench-passphrase"


@dataclass(frozen=True, slots=True)
class Venue:
    ccxt_id: str
    title: str  # how the table heading names the fake
    ccxt_config_for: Callable[[str], dict[str, Any]]
    listings: frozenset[str]  # read-only paths the bench server answers from its cache
    password: str | None = None
    peer_params: tuple[tuple[str, Any], ...] = ()  # what the peer's fetch_positions needs


VENUES: dict[str, Venue] = {
    "bybit": Venue(
        "bybit", "Bybit v5-format fake", bybit_server.ccxt_config_for,
        frozenset({"/v5/position/list", "/v5/order/realtime"}),
        # Without paginate ccxt reads one page (200 positions); the peer must see the whole book.
        peer_params=(("paginate", True), ("paginationCalls", 1000))),
    "okx": Venue(
        "okx", "OKX v5-format fake", okx_server.ccxt_config_for,
        frozenset({"/api/v5/account/positions", "/api/v5/trade/orders-pending",
                   "/api/v5/trade/orders-algo-pending"}),
        password=PASSWORD),
}
EXCHANGES = (BINANCE, *VENUES)

Sent = list[tuple[str, dict[str, str]]]


def record_gets(exchange: Any) -> Sent:
    """Wrap ``exchange.fetch`` so every GET it sends (URL and headers) lands in the list."""
    sent: Sent = []
    send = exchange.fetch

    async def recorded(url: str, method: str = "GET", headers: Any = None,
                       body: Any = None) -> Any:
        if method == "GET":
            sent.append((url, dict(headers or {})))
        return await send(url, method, headers, body)

    exchange.fetch = recorded
    return sent


async def replay(session: aiohttp.ClientSession, sent: Sent) -> float:
    """Re-send the recorded GETs in order (the fake checks that signature headers are present,
    not their value), read each with ``json.loads``; the list is emptied for the next cycle."""
    t0 = time.perf_counter()
    for url, headers in sent:
        async with session.get(url, headers=headers) as response:
            json.loads(await response.text())
    elapsed = time.perf_counter() - t0
    sent.clear()
    return elapsed
