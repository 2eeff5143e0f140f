"""The Binance-format fake in its own process, for the real-path benchmark.

    python -m benchmarks.real_server --markets N --open K [--exchange binanceusdm|bybit|okx]

Prints ``http://127.0.0.1:PORT`` on its first line, then serves until stdin closes. It is
``fakes.binance_server.BinanceServer`` over a ``PaperExchange`` with ``N`` synthetic markets,
plus two benchmark controls (``POST /bench/seed?start=&stop=`` opens positions without fills,
``POST /bench/change?count=`` trades 1% of the book by hand, the ``scenarios.ChangeMaker`` mix).

A separate process, so the server's own CPU time and memory are not the bot's. Read-only
answers (positions, open orders) are cached until the next write, as a real exchange answers
from memory: the benchmark's floor then measures the HTTP round trip and the JSON, not this
fake's Decimal formatting of 10,000 rows. ``--exchange bybit`` or ``okx`` serves the Bybit v5 or
OKX v5 fake over the same paper venue, with the same controls and cache (keyed by the query,
which carries their page cursors; their signatures travel in headers).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_env import PRICE, SIZE, side_of, symbol
from benchmarks.real_venues import BINANCE, EXCHANGES, VENUES
from benchmarks.scenarios import ChangeMaker
from positionbot.fakes.binance_server import BinanceServer
from positionbot.fakes.bybit_server import BybitServer
from positionbot.fakes.local_server import LocalServer
from positionbot.fakes.okx_server import OkxServer
from positionbot.fakes.wire_server import WireServer
from positionbot.tracker.exchange.paper import PaperExchange, synthetic_markets

CACHED = frozenset({"/fapi/v3/positionRisk", "/fapi/v1/openAlgoOrders", "/fapi/v1/openOrders"})


class BenchServer(BinanceServer):
    """The fake with benchmark controls and a read cache cleared by every write."""

    def __init__(self, venue: PaperExchange, n_open: int) -> None:
        super().__init__(venue)
        self._cache: dict[tuple[str, str], str] = {}
        self._maker = ChangeMaker(n_open)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/bench/"):
            self._cache.clear()
            return self._control(request)
        if request.method != "GET":
            self._cache.clear()
            return await super()._dispatch(request)
        key = (request.path, request.query.get("symbol", ""))
        if request.path in CACHED and key in self._cache and not len(self.faults):
            self.requests[f"GET {request.path}"] += 1
            return web.Response(text=self._cache[key], content_type="application/json")
        response = await super()._dispatch(request)
        if request.path in CACHED and isinstance(response, web.Response) and response.status == 200:
            assert response.text is not None
            self._cache[key] = response.text
        return response

    def _control(self, request: web.Request) -> web.Response:
        return control(self, self._maker, request)


def control(server: BinanceServer | WireServer, maker: ChangeMaker,
            request: web.Request) -> web.Response:
    """``/bench/seed``: positions without fills; ``/bench/change``: 1% of the book traded."""
    query = request.query
    if request.path == "/bench/seed":
        for i in range(int(query["start"]), int(query["stop"])):
            server.venue.set_mark(symbol(i), PRICE)
            server.seed_position(symbol(i), side_of(i), SIZE, PRICE)
    elif request.path == "/bench/change":
        maker.apply(server.venue)
    else:
        return web.Response(status=404, text=f"no control {request.path}")
    return web.json_response({"positions": len(server.venue.positions())})


class WireBench(WireServer):
    """The same controls and read cache in front of the Bybit or OKX fake (mixed in below)."""

    listings: frozenset[str] = frozenset()

    def __init__(self, venue: PaperExchange, n_open: int) -> None:
        super().__init__(venue)
        self._cache: dict[tuple[str, str], str] = {}
        self._maker = ChangeMaker(n_open)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/bench/"):
            self._cache.clear()
            return control(self, self._maker, request)
        if request.method != "GET":
            self._cache.clear()
            return await super()._dispatch(request)
        key = (request.path, request.query_string)
        if key in self._cache and not len(self.faults):
            self._count_request("GET", request.path)
            return web.Response(text=self._cache[key], content_type="application/json")
        response = await super()._dispatch(request)
        if request.path in self.listings and isinstance(response, web.Response) \
                and response.status == 200:
            assert response.text is not None
            self._cache[key] = response.text
        return response


class BybitBench(WireBench, BybitServer):
    listings = VENUES["bybit"].listings


class OkxBench(WireBench, OkxServer):
    listings = VENUES["okx"].listings


def bench_server(exchange: str, markets: int, n_open: int) -> LocalServer:
    paper = PaperExchange(synthetic_markets(markets))
    if exchange == BINANCE:
        return BenchServer(paper, n_open)
    return {"bybit": BybitBench, "okx": OkxBench}[exchange](paper, n_open)


async def serve(markets: int, n_open: int, exchange: str = BINANCE) -> None:
    server = bench_server(exchange, markets, n_open)
    url = await server.start()
    print(url, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, required=True)
    parser.add_argument("--open", type=int, required=True, help="positions the changes act on")
    parser.add_argument("--exchange", choices=EXCHANGES, default=BINANCE)
    args = parser.parse_args()
    asyncio.run(serve(args.markets, args.open, args.exchange))


if __name__ == "__main__":
    main()
