"""Stream benchmark: a change on the exchange -> a push accepted by the Bot API, with the stream.

    python benchmarks/stream_bench.py [--changes 200] [--stops 50] [--positions 10000] [--quick]

Everything real except the two servers: the Binance-format fake (REST and the user-data
WebSocket), ccxt (REST) and ccxt.pro (stream), the tracker, SQLite, the notifier and
python-telegram-bot against the Bot API fake. Default settings: the stream follower's, the
notifier's pacing (1 message/s per private chat, so changes are spaced 1.05 s apart) and the
notifier loop of ``bot.scheduler`` (every 1 s, kicked at once by a stream change).
Prints one Markdown table; every figure says what it includes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram.ext import ApplicationBuilder

from positionbot.bot.config import TelegramConfig
from positionbot.bot.notifier import Notifier, notice_recipients
from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.engine.stream_follower import StreamFollower, StreamSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.stream import CcxtUserStream, StreamTiming
from positionbot.tracker.exchange.paper import PaperExchange, default_markets, synthetic_markets
from positionbot.tracker.exchange.paper.stream import PaperStream

D = Decimal
BTC = "BTC/USDT:USDT"
CHAT = 4242
ACCOUNT = "bench"
WARM_EVENTS = 10_000  # by then every bounded memory (de-dupe, recent fills and orders) is full
SPACING_S = 1.05  # the notifier paces a private chat at 1 message/s: one change per slot
NOTIFY_INTERVAL_S = 1.0  # bot.scheduler.Timing.notify_interval's default


@dataclass(slots=True)
class Rig:
    venue: PaperExchange
    server: BinanceServer
    gateway: CcxtGateway
    stream: CcxtUserStream
    store: Store
    tracker: SimplePositionTracker
    follower: StreamFollower
    api: FakeBotApi | None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@asynccontextmanager
async def rig(workdir: Path, venue: PaperExchange, *, telegram: bool,
              monotonic: Callable[[], float] = time.monotonic) -> AsyncIterator[Rig]:
    server = BinanceServer(venue)
    await server.start()
    config = ccxt_config_for(server.base_url)
    gateway = CcxtGateway(ACCOUNT, "binanceusdm", api_key="k", secret="s", ccxt_config=config)
    stream = CcxtUserStream(ACCOUNT, "binanceusdm", api_key="k", secret="s", ccxt_config=config,
                            timing=StreamTiming())
    api = FakeBotApi() if telegram else None
    tg = TelegramConfig(allowed_chats=[CHAT], notify_chats=[CHAT])
    store = await Store.open(workdir / f"bench-{time.monotonic_ns()}.db",
                             recipients=notice_recipients(tg))
    tracker = SimplePositionTracker(store, {ACCOUNT: gateway},
                                    TrackerSettings(dust=DustPolicy(D("0"))))
    await tracker.start(announce=False)
    follower = StreamFollower(tracker, stream, store, StreamSettings(), monotonic=monotonic)
    tracker.streams[ACCOUNT] = follower  # as the wiring does
    tasks: list[asyncio.Task[None]] = []
    try:
        if api is not None:
            await api.__aenter__()
            bot = ApplicationBuilder().token(api.token).base_url(api.base_url).build().bot
            await bot.initialize()
            notifier = Notifier(bot, store, tg)
            lock = asyncio.Lock()

            async def drain() -> None:
                async with lock:
                    await notifier.drain()

            async def loop() -> None:
                while True:
                    await asyncio.sleep(NOTIFY_INTERVAL_S)
                    await drain()

            tasks.append(asyncio.create_task(loop()))
            follower.on_change = lambda: tasks.append(asyncio.create_task(drain()))
        follower.start()
        await _until(lambda: follower.connected)
        yield Rig(venue, server, gateway, stream, store, tracker, follower, api)
    finally:
        for task in tasks:
            task.cancel()
        await follower.stop()
        await gateway.close()
        await store.close()
        if api is not None:
            await bot.shutdown()
            await api.__aexit__(None, None, None)
        await server.stop()


def _sends(api: FakeBotApi) -> list[float]:
    return [t for (method, _), t in zip(api.calls, api.call_times, strict=True)
            if method == "sendMessage"]


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not complete")
        await asyncio.sleep(0.001)


async def _push_after(r: Rig, act: Callable[[], object]) -> float:
    """Seconds from ``act`` (a change on the exchange) to the Bot API accepting its push."""
    assert r.api is not None
    before = len(_sends(r.api))
    t0 = time.monotonic()
    act()
    await _until(lambda: len(_sends(r.api)) > before)  # type: ignore[arg-type]
    latency = _sends(r.api)[before] - t0
    await asyncio.sleep(max(0.0, SPACING_S - (time.monotonic() - t0)))
    return latency


async def change_latency(workdir: Path, changes: int) -> list[float]:
    venue = PaperExchange(default_markets(), marks={BTC: D("50000")})
    async with rig(workdir, venue, telegram=True) as r:
        latencies = []
        for i in range(changes):  # open, increase, partial close, close, ...
            step = i % 4
            side = OrderSide.BUY if step < 2 else OrderSide.SELL
            amount = D("0.010") if step in (0, 1) else (D("0.005") if step == 2 else D("0.015"))
            latencies.append(await _push_after(r, lambda s=side, a=amount, st=step: venue.manual_order(
                BTC, s, a, reduce_only=st >= 2)))
        return latencies


async def stop_latency(workdir: Path, stops: int) -> list[float]:
    venue = PaperExchange(default_markets(), marks={BTC: D("50000")})
    async with rig(workdir, venue, telegram=True) as r:
        commands = TradeCommands(r.tracker)
        latencies = []
        for _ in range(stops):
            venue.set_mark(BTC, D("50000"))
            await _push_after(r, lambda: venue.manual_order(BTC, OrderSide.BUY, D("0.010")))
            (trade,) = r.tracker.book.active_trades(ACCOUNT)
            assert r.api is not None
            before = len(_sends(r.api))
            await commands.set_stop_loss(trade.id, D("49000"))
            await _until(lambda b=before: len(_sends(r.api)) > b)  # type: ignore[arg-type]
            await asyncio.sleep(SPACING_S)
            latencies.append(await _push_after(r, lambda: venue.set_mark(BTC, D("48990"))))
            await _until(lambda: not r.tracker.book.active_trades(ACCOUNT))
        return latencies


async def requests_per_hour(workdir: Path) -> dict[str, float]:
    """REST requests of an hour of verifying polls, counted at the fake (one poll every
    ``verify_interval`` on the follower's clock, which the benchmark moves), plus the listen-key
    keep-alives of an hour (their schedule: one every ``keepalive``)."""
    venue = PaperExchange(default_markets(), marks={BTC: D("50000")})
    clock = [0.0]
    polls = round(3600 / StreamSettings().verify_interval)

    async def hour(r: Rig) -> int:
        before = r.server.total_requests
        for _ in range(polls):
            clock[0] += StreamSettings().verify_interval
            assert (await r.tracker.run_cycle(ACCOUNT)).ok
        return r.server.total_requests - before

    async def polled_cycle(r: Rig) -> int:
        """One cycle as polling alone runs it (no stream vouching for anything)."""
        follower = r.tracker.streams.pop(ACCOUNT)
        before = r.server.total_requests
        await r.tracker.run_cycle(ACCOUNT)
        r.tracker.streams[ACCOUNT] = follower
        return r.server.total_requests - before

    async with rig(workdir, venue, telegram=False, monotonic=lambda: clock[0]) as r:
        venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
        await _until(lambda: bool(r.tracker.book.active_trades(ACCOUNT)))
        plain, cycle = await hour(r), await polled_cycle(r)
        (trade,) = r.tracker.book.active_trades(ACCOUNT)
        seen = r.follower.stop_orders_seen
        await TradeCommands(r.tracker).set_stop_loss(trade.id, D("45000"))
        await _until(lambda: r.follower.stop_orders_seen > seen)  # the stop's ALGO_UPDATE
        await r.tracker.run_cycle(ACCOUNT)  # the stop's first listing, before the hour
        with_stop, cycle_stops = await hour(r), await polled_cycle(r)
        assert r.follower.connected
    keepalives = 3600 / StreamTiming().keepalive
    return {"cycle": cycle, "cycle_stops": cycle_stops, "polls": polls,
            "hour": plain + keepalives, "hour_stops": with_stop + keepalives,
            "poll_hour": cycle * 3600 / 15, "poll_hour_stops": cycle_stops * 3600 / 15}


async def burst_requests(workdir: Path, positions: int) -> tuple[int, int, float]:
    """REST requests while the stream delivers a burst changing 1% of ``positions``."""
    markets = synthetic_markets(positions)
    marks = {m.symbol: D("100") for m in markets}
    venue = PaperExchange(markets, marks=marks)
    server_seed = [(m.symbol, D("1.000")) for m in markets]
    async with rig(workdir, venue, telegram=False) as r:
        for symbol, size in server_seed:
            r.server.seed_position(symbol, Side.LONG, size, D("100"))
        await r.tracker.run_cycle(ACCOUNT)  # adopt them all
        changed = max(1, positions // 100)
        before = r.server.total_requests
        applied0 = sum(1 for _ in r.tracker.book.active_trades(ACCOUNT))
        t0 = time.monotonic()
        for m in markets[:changed]:
            venue.manual_order(m.symbol, OrderSide.BUY, D("0.500"))
        await _until(lambda: all(t.size == D("1.5") for t in r.tracker.book.active_trades(ACCOUNT)
                                 if int(t.symbol[1:].split("/")[0]) < changed), timeout=120)
        seconds = time.monotonic() - t0
        assert applied0 == positions
        return changed, r.server.total_requests - before, seconds


async def stream_memory(workdir: Path, events: int) -> tuple[int, float, float]:
    """Heap after ``WARM_EVENTS`` and after ``events`` more stream events through the follower
    (the venue keeps only its last 100 fills and orders, so its own history does not count)."""
    venue = PaperExchange(default_markets(), marks={BTC: D("50000")}, max_fills=100,
                          max_orders=100)
    store = await Store.open(workdir / "memory.db")
    from positionbot.tracker.exchange.paper import PaperGateway
    tracker = SimplePositionTracker(store, {ACCOUNT: PaperGateway(venue, ACCOUNT)},
                                    TrackerSettings(dust=DustPolicy(D("0"))))
    await tracker.start(announce=False)
    stream = PaperStream(venue, ACCOUNT)
    follower = StreamFollower(tracker, stream, store, StreamSettings(coalesce=0))
    seen = 0
    original: Any = stream._on_event

    def counting(event: Any) -> None:
        nonlocal seen
        seen += 1
        original(event)

    stream._on_event = counting  # type: ignore[method-assign]
    follower.start()
    await _until(lambda: follower.connected)
    tracemalloc.start()
    marks: dict[str, float] = {}
    side = OrderSide.BUY
    while seen < WARM_EVENTS + events:
        venue.manual_order(BTC, side, D("0.010"), reduce_only=side is OrderSide.SELL)
        side = OrderSide.SELL if side is OrderSide.BUY else OrderSide.BUY
        await _until(lambda: stream._queue.qsize() == 0)
        if seen >= WARM_EVENTS and "first" not in marks:
            gc.collect()
            marks["first"] = tracemalloc.get_traced_memory()[0] / 1e6
    gc.collect()
    marks["last"] = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    await follower.stop()
    await store.close()
    return seen - WARM_EVENTS, marks["first"], marks["last"]


def _ms(values: list[float]) -> str:
    return (f"p50 {statistics.median(values) * 1000:,.0f} ms · "
            f"p95 {_percentile(values, 0.95) * 1000:,.0f} ms · max {max(values) * 1000:,.0f} ms")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--stops", type=int, default=50)
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="20 changes, 5 stops, 1,000 positions")
    args = parser.parse_args(argv)
    if args.quick:
        args.changes, args.stops, args.positions, args.events = 20, 5, 1_000, 2_000
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        changes = await change_latency(workdir, args.changes)
        stops = await stop_latency(workdir, args.stops)
        hourly = await requests_per_hour(workdir)
        changed, burst, burst_s = await burst_requests(workdir, args.positions)
        events, first_mb, last_mb = await stream_memory(workdir, args.events)
    rows = [
        ("Manual change → push accepted by the Bot API fake "
         f"({len(changes)} changes: open/increase/partial close/close)", _ms(changes)),
        (f"Stop-loss hit → push accepted ({len(stops)} hits)", _ms(stops)),
        ("REST requests per polled cycle (positions; + open stops when a trade has one)",
         f"{hourly['cycle']:.0f} · {hourly['cycle_stops']:.0f} with a stop"),
        (f"REST requests per hour per account, stream healthy ({hourly['polls']:.0f} verifying "
         "polls counted at the fake: positions each, open stops every "
         f"{StreamSettings().stops_every} while the stream reports stops; + listen-key "
         "keep-alive every 30 min)",
         f"{hourly['hour']:.0f} · {hourly['hour_stops']:.0f} with a stop "
         f"(polling every 15 s: {hourly['poll_hour']:.0f} · {hourly['poll_hour_stops']:.0f})"),
        (f"REST requests while the stream delivers a 1% burst ({changed} of {args.positions:,} "
         "positions changed, fills on the stream)", f"{burst} (applied in {burst_s:.2f} s)"),
        (f"Traced heap after {WARM_EVENTS:,} stream events, then after {events:,} more (in "
         "process, tracemalloc)",
         f"{first_mb:.2f} MB → {last_mb:.2f} MB"),
    ]
    print("| Stream figure | Result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
