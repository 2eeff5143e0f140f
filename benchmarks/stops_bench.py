"""Stop actions on the real path: requests and wall time for placing stops, and the 1%-changed
cycle split into reads and writes, with the stop actions one at a time or side by side.

    python benchmarks/stops_bench.py [--stops 1000] [--positions 10000] [--changed 5]
        [--concurrency 1,8] [--latency-ms 0,20] [--paced] [--ccxt-ms 0.01]

The Binance-format fake (``real_server.BenchServer``, here with an optional delay before every
answer, standing in for the round trip to the exchange) runs in its own process; the bot
(``real_bot.Bot``: the tracker, a SQLite file, ccxt over local HTTP, the fast path) runs here.
Every request ccxt sends is tallied by method and path, so a cycle's requests split into reads
(positions, verification, open stops, fills, look-ups) and writes (stop creates and cancels).
``--concurrency`` sets ``stop_actions.STOP_CONCURRENCY`` for each run (1 is the old serial way).

The gateway paces orders within Binance's order limits (270 of the 300 per 10 s): 1,000 stops
then take at least 33 s whatever the code does, so stops are placed without that pacing unless
``--paced`` (which adds one paced run). Each changed cycle starts with empty order windows, as
at the bot's 15 s cycle interval, where a cycle's ~170 orders never fill them.

``--ccxt-ms`` is what ccxt's own limiter charges per unit of request weight in the measured
cycles: 0.01 ms as in ``real_bot`` (the figures are the work), or ccxt's default for Binance,
50 ms (what a production cycle waits: userTrades weighs 5, an Algo order 1).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.real_bot import Bot
from benchmarks.real_server import BenchServer
from benchmarks.scenarios import ChangeMaker
from positionbot.tracker.engine import stop_actions
from positionbot.tracker.exchange.ccxt.order_pacing import OrderPacers
from positionbot.tracker.exchange.paper import PaperExchange, synthetic_markets

ROOT = Path(__file__).resolve().parent.parent
WRITES = {"POST": "create", "DELETE": "cancel", "PUT": "amend"}
SETUP_CONCURRENCY = 8  # placing the stops the changed cycles start from


class Tally:
    """Counts every request the gateway's ccxt instance sends, by kind."""

    def __init__(self, bot: Bot) -> None:
        self.counts: Counter[str] = Counter()
        exchange: Any = bot.gateway._exchange
        inner = exchange.fetch

        async def tallied(url: str, method: str = "GET", headers: Any = None,
                          body: Any = None) -> Any:
            self.counts[_kind(url, method)] += 1
            return await inner(url, method, headers, body)

        exchange.fetch = tallied

    def take(self) -> Counter[str]:
        taken, self.counts = self.counts, Counter()
        return taken


def _kind(url: str, method: str) -> str:
    parts = urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1]
    if method in WRITES:
        return f"write {WRITES[method]} {name}"
    if name == "positionRisk" and "symbol=" in parts.query:
        return "read positionRisk by symbol (verification)"
    return f"read {name}"


def _split(counts: Counter[str], cycles: int = 1) -> tuple[float, float]:
    reads = sum(v for k, v in counts.items() if k.startswith("read")) / cycles
    writes = sum(v for k, v in counts.items() if k.startswith("write")) / cycles
    return reads, writes


class SlowServer(BenchServer):
    """The benchmark fake, answering every exchange request after ``latency`` seconds."""

    def __init__(self, venue: PaperExchange, n_open: int, latency: float) -> None:
        super().__init__(venue, n_open)
        self._latency = latency

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if self._latency and not request.path.startswith("/bench/"):
            await asyncio.sleep(self._latency)
        return await super()._dispatch(request)


async def serve(markets: int, n_open: int, latency: float) -> None:
    server = SlowServer(PaperExchange(synthetic_markets(markets)), n_open, latency)
    print(await server.start(), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()


@asynccontextmanager
async def fake_server(markets: int, n_open: int, latency_ms: float) -> AsyncIterator[str]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.stops_bench", "--serve", str(markets), str(n_open),
        str(latency_ms / 1000), cwd=ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE)
    assert server.stdout is not None and server.stdin is not None
    try:
        yield (await server.stdout.readline()).decode().strip()
    finally:
        server.stdin.close()
        await server.wait()


async def _post(url: str, path: str, **params: int) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            url + path, params={k: str(v) for k, v in params.items()}) as response:
        response.raise_for_status()


def _pacing(bot: Bot, exchange_limits: bool) -> None:
    """Fresh order windows: Binance's limits, or none (an exchange id without limits)."""
    orders: Any = bot.gateway._orders
    orders.pacers = OrderPacers.for_exchange("binanceusdm" if exchange_limits else "unpaced")


async def _cycle(bot: Bot, tally: Tally) -> tuple[float, Counter[str]]:
    tally.take()
    t0 = time.perf_counter()
    await bot.cycle()
    return time.perf_counter() - t0, tally.take()


@asynccontextmanager
async def running_bot(n: int, markets: int, latency_ms: float, tmp: Path,
                      name: str) -> AsyncIterator[tuple[Bot, Tally, str]]:
    """The bot over a fresh fake with ``n`` positions, synced once (no stops yet)."""
    async with fake_server(markets, n, latency_ms) as url:
        bot = Bot(url, tmp / f"{name}.db", fast=True)
        tally = Tally(bot)
        try:
            await bot.start()
            await bot.gateway.markets()
            await _post(url, "/bench/seed", start=0, stop=n)
            await bot.cycle()
            yield bot, tally, url
        finally:
            await bot.close()


@dataclass(frozen=True)
class Run:
    concurrency: int
    latency_ms: float
    ccxt_ms: float


def _ccxt_limiter(bot: Bot, ms_per_weight: float) -> None:
    exchange: Any = bot.gateway._exchange
    exchange.rateLimit = ms_per_weight
    exchange.throttler.config["refillRate"] = 1 / ms_per_weight


async def place_stops(n: int, run: Run, paced: bool, tmp: Path) -> str:
    stop_actions.STOP_CONCURRENCY = run.concurrency
    async with running_bot(n, n, run.latency_ms, tmp, f"stops-{run}-{paced}") as (bot, tally, _):
        await bot.add_stop_losses()
        _pacing(bot, paced)
        _ccxt_limiter(bot, run.ccxt_ms)
        seconds, counts = await _cycle(bot, tally)
    reads, writes = _split(counts)
    pacing = "Binance's order limits" if paced else "lifted"
    return (f"| {n:,} stops placed | {run.concurrency} | {run.latency_ms:g} ms | "
            f"{run.ccxt_ms:g} ms | {pacing} | "
            f"{seconds:.2f} s | {sum(counts.values()):,} ({reads:g} reads, {writes:g} writes) |")


async def changed_cycles(n: int, cycles: int, run: Run, tmp: Path) -> list[str]:
    stop_actions.STOP_CONCURRENCY = SETUP_CONCURRENCY
    markets = n + ChangeMaker.spare_markets(n, cycles + 2)
    async with running_bot(n, markets, run.latency_ms, tmp, f"changed-{run}") as (bot, tally,
                                                                                  url):
        await bot.add_stop_losses()
        _pacing(bot, False)  # setting up: a stop on every position
        await bot.cycle()
        await bot.cycle()
        stop_actions.STOP_CONCURRENCY = run.concurrency
        _ccxt_limiter(bot, run.ccxt_ms)
        steady = [(await _cycle(bot, tally))[0] for _ in range(5)]
        changed: list[tuple[float, Counter[str]]] = []
        for _ in range(cycles):
            await _post(url, "/bench/change")
            _pacing(bot, True)
            changed.append(await _cycle(bot, tally))
    steady_s = statistics.median(steady)
    changed_s = statistics.median(s for s, _ in changed)
    total: Counter[str] = Counter()
    for _, counts in changed:
        total.update(counts)
    reads, writes = _split(total, cycles)
    kinds = ", ".join(f"{kind.split(' ', 1)[1]} {count / cycles:g}"
                      for kind, count in sorted(total.items()))
    return [f"| 1% changed at {n:,} | {run.concurrency} | {run.latency_ms:g} ms | "
            f"{run.ccxt_ms:g} ms | "
            f"{steady_s * 1000:.0f} ms | {changed_s * 1000:.0f} ms | "
            f"{changed_s / steady_s:.1f}x | {reads:g} + {writes:g} |", f"|  | | | | | | | {kinds} |"]


async def main_async(args: argparse.Namespace) -> None:
    runs = [Run(c, lat, args.ccxt_ms) for lat in args.latency_ms for c in args.concurrency]
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="positionbot-stops-") as tmp:
        if args.stops:
            lines += ["| what | concurrency | added latency | ccxt limiter per weight | "
                      "order pacing | wall | requests |", "|---|---|---|---|---|---|---|"]
            lines += [await place_stops(args.stops, run, False, Path(tmp)) for run in runs]
            if args.paced:
                lines.append(await place_stops(args.stops, runs[-1], True, Path(tmp)))
            lines.append("")
        if args.positions:
            lines += ["| what | concurrency | added latency | ccxt limiter per weight | steady "
                      f"(median of 5) | changed (median of {args.changed}) | changed / steady | "
                      "requests per changed cycle: reads + writes |",
                      "|---|---|---|---|---|---|---|---|"]
            for run in runs:
                lines += await changed_cycles(args.positions, args.changed, run, Path(tmp))
    print("\n".join(lines))


def _numbers(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        markets, n_open, latency = sys.argv[2:5]
        asyncio.run(serve(int(markets), int(n_open), float(latency)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stops", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=10000)
    parser.add_argument("--changed", type=int, default=5)
    parser.add_argument("--concurrency", type=lambda t: [int(x) for x in _numbers(t)],
                        default=[1, 8])
    parser.add_argument("--latency-ms", type=_numbers, default=[0.0])
    parser.add_argument("--paced", action="store_true", help="add a run paced as on Binance")
    parser.add_argument("--ccxt-ms", type=float, default=0.01,
                        help="ccxt's limiter, ms per unit of request weight, in measured cycles")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
