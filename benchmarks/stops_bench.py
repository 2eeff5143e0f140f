"""Stop actions on the real path: requests and wall time for placing stops, and the 1%-changed
cycle split into reads and writes.

    python benchmarks/stops_bench.py [--stops 1000] [--positions 10000] [--changed 5]

The Binance-format fake (``real_server``) runs in its own process; the bot (``real_bot.Bot``:
the tracker, a SQLite file, ccxt over local HTTP, the fast path) runs here. Every request
ccxt sends is tallied by method and path, so a cycle's requests split into reads (positions,
verification, open stops, fills, look-ups) and writes (stop creates and cancels). Prints one
Markdown report.
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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.real_bot import Bot
from benchmarks.scenarios import ChangeMaker

ROOT = Path(__file__).resolve().parent.parent
WRITES = {"POST": "create", "DELETE": "cancel", "PUT": "amend"}


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


@asynccontextmanager
async def fake_server(markets: int, n_open: int) -> AsyncIterator[str]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.real_server", "--markets", str(markets), "--open",
        str(n_open), cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert server.stdout is not None and server.stdin is not None
    try:
        yield (await server.stdout.readline()).decode().strip()
    finally:
        server.stdin.close()
        await server.wait()


async def _cycle(bot: Bot, tally: Tally) -> tuple[float, Counter[str]]:
    tally.take()
    t0 = time.perf_counter()
    await bot.cycle()
    return time.perf_counter() - t0, tally.take()


async def place_stops(n: int, tmp: Path) -> list[str]:
    async with fake_server(n, n) as url:
        bot = Bot(url, tmp / "stops.db", fast=True)
        tally = Tally(bot)
        try:
            await bot.start()
            await bot.gateway.markets()
            await _seed(url, n)
            await bot.cycle()
            await bot.add_stop_losses()
            seconds, counts = await _cycle(bot, tally)
        finally:
            await bot.close()
    return [f"## {n:,} stops placed in one cycle", "",
            f"- wall time of the cycle: {seconds:.2f} s",
            f"- requests: {sum(counts.values()):,} ({_split(counts)})", ""]


async def _seed(url: str, n: int) -> None:
    await _post(url, "/bench/seed", start=0, stop=n)


async def changed_cycles(n: int, cycles: int, tmp: Path) -> list[str]:
    markets = n + ChangeMaker.spare_markets(n, cycles + 2)
    async with fake_server(markets, n) as url:
        bot = Bot(url, tmp / "changed.db", fast=True)
        tally = Tally(bot)
        try:
            await bot.start()
            await bot.gateway.markets()
            await _seed(url, n)
            await bot.cycle()
            await bot.add_stop_losses()
            await bot.cycle()
            await bot.cycle()
            steady = [(await _cycle(bot, tally))[0] for _ in range(5)]
            changed: list[tuple[float, Counter[str]]] = []
            for _ in range(cycles):
                await _post(url, "/bench/change")
                changed.append(await _cycle(bot, tally))
        finally:
            await bot.close()
    steady_s = statistics.median(steady)
    changed_s = statistics.median(s for s, _ in changed)
    total: Counter[str] = Counter()
    for _, counts in changed:
        total.update(counts)
    lines = [f"## 1%-changed cycle at {n:,} positions (every position with a stop)", "",
             f"- steady cycle, median of 5: {steady_s * 1000:.0f} ms",
             f"- 1%-changed cycle, median of {cycles}: {changed_s * 1000:.0f} ms "
             f"({changed_s / steady_s:.1f}x steady)",
             "- requests per changed cycle: "
             + ", ".join(str(sum(c.values())) for _, c in changed),
             f"- mean per changed cycle by kind ({_split(total, cycles)}):", ""]
    lines += [f"  - {kind}: {count / cycles:.1f}" for kind, count in sorted(total.items())]
    return [*lines, ""]


async def _post(url: str, path: str, **params: int) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            url + path, params={k: str(v) for k, v in params.items()}) as response:
        response.raise_for_status()


def _split(counts: Counter[str], cycles: int = 1) -> str:
    reads = sum(v for k, v in counts.items() if k.startswith("read")) / cycles
    writes = sum(v for k, v in counts.items() if k.startswith("write")) / cycles
    return f"reads {reads:g}, writes {writes:g}"


async def main_async(stops: int, positions: int, cycles: int) -> None:
    with tempfile.TemporaryDirectory(prefix="positionbot-stops-") as tmp:
        lines = await place_stops(stops, Path(tmp)) if stops else []
        if positions:
            lines += await changed_cycles(positions, cycles, Path(tmp))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stops", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=10000)
    parser.add_argument("--changed", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.stops, args.positions, args.changed))


if __name__ == "__main__":
    main()
