"""The Binance-format fake in its own process, for the real-path benchmark.

    python -m benchmarks.real_server --markets N

Prints ``http://127.0.0.1:PORT`` on its first line, then serves until stdin closes. It is
``fakes.binance_server.BinanceServer`` over a ``PaperExchange`` with ``N`` synthetic markets,
plus two benchmark controls (``POST /bench/seed?start=&stop=`` opens positions without fills,
``POST /bench/change?count=`` trades 1% of the book by hand, the ``scenarios.ChangeMaker`` mix).

A separate process, so the server's own CPU time and memory are not the bot's. Read-only
answers (positions, open orders) are cached until the next write, as a real exchange answers
from memory: the benchmark's floor then measures the HTTP round trip and the JSON, not this
fake's Decimal formatting of 10,000 rows.
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
from benchmarks.scenarios import ChangeMaker
from positionbot.fakes.binance_server import BinanceServer
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
        query = request.query
        if request.path == "/bench/seed":
            for i in range(int(query["start"]), int(query["stop"])):
                self.venue.set_mark(symbol(i), PRICE)
                self.seed_position(symbol(i), side_of(i), SIZE, PRICE)
        elif request.path == "/bench/change":
            self._maker.apply(self.venue)
        else:
            return web.Response(status=404, text=f"no control {request.path}")
        return web.json_response({"positions": len(self.venue.positions())})


async def serve(markets: int, n_open: int) -> None:
    server = BenchServer(PaperExchange(synthetic_markets(markets)), n_open)
    url = await server.start()
    print(url, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, required=True)
    parser.add_argument("--open", type=int, required=True, help="positions the changes act on")
    args = parser.parse_args()
    asyncio.run(serve(args.markets, args.open))


if __name__ == "__main__":
    main()
