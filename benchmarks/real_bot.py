"""The bot on the real path: the tracker, a SQLite file and the ccxt gateway over local HTTP.

    python -m benchmarks.real_bot URL N [--steady K] [--changed K] [--memory K] [--generic]
        [--exchange binanceusdm|bybit|okx]

Run by ``real_path`` in a process of its own (so its RSS is the bot's alone, ccxt's market
tables included) against ``real_server`` at ``URL``, with ``N`` positions seeded there; prints
one JSON object. Time is split three ways per cycle: the whole cycle; the time inside ccxt
(every ccxt method the gateway calls, the socket and JSON parse included — on the fast path
that parse is the gateway's column decoding, run by ccxt's JSON hook where ccxt would parse);
and the bot's own work, the rest (a changed listing's full parse included). The floor,
measured in the same run right after each steady cycle, is the same requests a steady cycle
makes, sent with aiohttp and read with ``json.loads`` and nothing else (on Bybit and OKX,
which page their listings, every GET the steady cycle sent, replayed: ``real_venues``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from functools import wraps
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_env import stop_price
from benchmarks.real_venues import BINANCE, EXCHANGES, VENUES, Sent, record_gets, replay
from benchmarks.scenarios import _rss_bytes
from positionbot.fakes.binance_server import ccxt_config_for
from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.models import TradeStatus
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.order_pacing import OrderPacers

ACCOUNT = "bench"
CHAT = 4242
FIRST_MEMORY_READING = 10
# Every ccxt entry point the gateway uses; nested calls are counted once.
CCXT_METHODS = (
    "load_markets", "fetch_positions", "fetch_open_orders", "fetch_my_trades", "fetch_order",
    "create_order", "cancel_order", "fetch_position_mode", "fetch_mark_price", "fetch_ticker",
    "fetch_balance", "fetch_funding_history", "fetch_ledger", "load_leverage_brackets",
    "fapiPrivateV3GetPositionRisk", "fapiPrivateGetOpenAlgoOrders", "fapiPrivateGetIncome",
)
# The fake enforces no request weights, so ccxt's limiter (on, as in production) is set to
# charge 0.01 ms per weight unit instead of Binance's 50 ms: the figures are the work, and the
# weight budget is the scheduler's business (a steady cycle weighs 45 of Binance's 2,400/min).
BENCH_RATE_LIMIT_MS = 0.01
# What a steady cycle asks for: every position and every open stop (all positions carry one).
FLOOR_PATHS = ("/fapi/v3/positionRisk", "/fapi/v1/openAlgoOrders")


def bench_ccxt_config(url: str) -> dict[str, Any]:
    return {**ccxt_config_for(url), "rateLimit": BENCH_RATE_LIMIT_MS}


class CcxtTimer:
    """Wall time spent inside the ccxt instance's methods, socket and JSON parse included: from
    the first call in flight to the last one done, so concurrent calls are counted once."""

    def __init__(self, exchange: Any) -> None:
        self.seconds = 0.0
        self._depth = 0
        self._since = 0.0
        for name in CCXT_METHODS:
            method = getattr(exchange, name, None)
            if method is not None:
                setattr(exchange, name, self._timed(method))

    def _timed(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @wraps(method)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth == 0:
                self._since = time.perf_counter()
            self._depth += 1
            try:
                return await method(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - self._since
        return timed


@dataclass(frozen=True, slots=True)
class Sample:
    cycle_s: float  # CycleReport.duration_s: the whole cycle
    ccxt_s: float  # inside ccxt: request, socket, JSON parse and (generic path) ccxt's parse
    own_s: float  # the rest: the bot's own work (normalise, classify, account, DB, stop pass)
    requests: int  # HTTP requests the gateway sent
    changes: int
    verified: bool


@dataclass(slots=True)
class BotResult:
    n: int
    path: str
    exchange: str
    all_new: Sample | None = None
    stops_placed: Sample | None = None
    steady: list[Sample] = field(default_factory=list)
    floor_s: list[float] = field(default_factory=list)
    changed: list[Sample] = field(default_factory=list)
    changes_made: int = 0
    rss_bytes: list[tuple[int, int | None]] = field(default_factory=list)  # (cycles, RSS)
    peak_rss_bytes: int | None = None


class Floor:
    """The same requests a steady cycle makes, with aiohttp and ``json.loads`` only."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._session = aiohttp.ClientSession(headers={"X-MBX-APIKEY": "bench-key"})

    async def measure(self, *, positions_only: bool = False) -> float:
        t0 = time.perf_counter()
        for path in FLOOR_PATHS[:1] if positions_only else FLOOR_PATHS:
            params = {"timestamp": str(int(time.time() * 1000)), "signature": "0"}
            async with self._session.get(self._url + path, params=params) as response:
                json.loads(await response.text())
        return time.perf_counter() - t0

    async def control(self, path: str, **params: int) -> None:
        async with self._session.post(self._url + path, params={k: str(v) for k, v in
                                                               params.items()}) as response:
            response.raise_for_status()

    async def close(self) -> None:
        await self._session.close()


class ReplayFloor(Floor):
    """The GETs the last cycle sent (``sent``, from ``record_gets``), re-sent and parsed."""

    def __init__(self, url: str, sent: Sent) -> None:
        super().__init__(url)
        self.sent = sent

    async def measure(self, *, positions_only: bool = False) -> float:
        return await replay(self._session, self.sent)


def bench_ccxt_config_for(exchange: str, url: str) -> dict[str, Any]:
    if exchange == BINANCE:
        return bench_ccxt_config(url)
    return {**VENUES[exchange].ccxt_config_for(url), "rateLimit": BENCH_RATE_LIMIT_MS}


class Bot:
    def __init__(self, url: str, db: Path, fast: bool, exchange: str = BINANCE) -> None:
        password = None if exchange == BINANCE else VENUES[exchange].password
        self.gateway = CcxtGateway(ACCOUNT, exchange, api_key="bench-key",
                                   secret="bench-secret", password=password,
                                   ccxt_config=bench_ccxt_config_for(exchange, url),
                                   fast_path=fast)
        # Order pacing off, as the weight limiter is scaled down: the fake enforces no order
        # limits, and at Binance's 1,080 orders a minute 10,000 stops take 9.3 minutes of
        # waiting whatever the bot does (``real_path`` states that bound beside the figure).
        self.gateway._orders.pacers = OrderPacers.for_exchange("unpaced")
        self.timer = CcxtTimer(self.gateway._exchange)
        self.sent = None if exchange == BINANCE else record_gets(self.gateway._exchange)
        self._db = db
        self._store: Store | None = None
        self.tracker: SimplePositionTracker | None = None

    async def start(self) -> None:
        if self._store is None:
            self._store = await Store.open(self._db, recipients=fixed_recipients((CHAT,)))
        self.tracker = SimplePositionTracker(self._store, {ACCOUNT: self.gateway},
                                             TrackerSettings(verify_delay=0))
        await self.tracker.start()

    async def cycle(self) -> Sample:
        assert self.tracker is not None
        if self.sent is not None:
            self.sent.clear()  # only this cycle's GETs are kept, for the floor to replay
        calls0, ccxt0 = self.gateway.calls, self.timer.seconds
        report = await self.tracker.run_cycle(ACCOUNT)
        if not report.ok:
            raise RuntimeError(f"cycle failed: {report.errors}")
        inside = self.timer.seconds - ccxt0
        return Sample(report.duration_s, inside, report.duration_s - inside,
                      self.gateway.calls - calls0, len(report.changes), report.verified)

    async def add_stop_losses(self) -> None:
        """A stop loss on every open trade, then a restart (the tracker caches the trades)."""
        assert self.tracker is not None and self._store is not None
        trades = [replace(t, stop_loss_price=stop_price(t.side))
                  for t in self.tracker.book.active_trades(ACCOUNT)
                  if t.status is TradeStatus.OPEN]
        await self._store.commit(WriteBatch(ACCOUNT, trades=trades))
        await self.start()

    async def close(self) -> None:
        await self.gateway.close()
        if self._store is not None:
            await self._store.close()


def _rss_reading(cycles: int) -> tuple[int, int | None]:
    gc.collect()
    return cycles, _rss_bytes()


async def run(url: str, n: int, steady: int, changed: int, memory: int, fast: bool,
              stops: bool, exchange: str = BINANCE) -> BotResult:
    result = BotResult(n, "fast" if fast else "generic", exchange)
    with tempfile.TemporaryDirectory(prefix="positionbot-real-") as tmp:
        bot = Bot(url, Path(tmp) / "bench.db", fast, exchange)
        floor = Floor(url) if bot.sent is None else ReplayFloor(url, bot.sent)
        try:
            await bot.start()
            await bot.gateway.markets()  # loaded before the timed cycles, as a running bot has
            await floor.control("/bench/seed", start=0, stop=n)
            result.all_new = await bot.cycle()
            if stops:
                await bot.add_stop_losses()
                result.stops_placed = await bot.cycle()
            await bot.cycle()  # the first quiet cycle after the changes settles the book
            for _ in range(steady):
                result.steady.append(await bot.cycle())
                result.floor_s.append(await floor.measure())
            for _ in range(changed):
                await floor.control("/bench/change")
                result.changed.append(await bot.cycle())
            result.changes_made = max(1, round(n / 100))
            await bot.cycle()
            for done in range(1, memory + 1):
                await bot.cycle()
                if done in (FIRST_MEMORY_READING, memory):
                    result.rss_bytes.append(_rss_reading(done))
        finally:
            await bot.close()
            await floor.close()
    result.peak_rss_bytes = _peak_rss()
    return result


def _peak_rss() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("n", type=int)
    parser.add_argument("--steady", type=int, default=30)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--memory", type=int, default=1000)
    parser.add_argument("--generic", action="store_true", help="ccxt's unified parse, no fast path")
    parser.add_argument("--no-stops", action="store_true")
    parser.add_argument("--exchange", choices=EXCHANGES, default=BINANCE)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.n, args.steady, args.changed, args.memory,
                             not args.generic, not args.no_stops, args.exchange))
    print(json.dumps(asdict(result)))


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


if __name__ == "__main__":
    main()
