"""The cycle scenarios, for one number of open positions: all new, steady, 1% changed, memory.

Each scenario drives the real tracker through ``BenchEnv`` and keeps every cycle's sample;
the table is computed from them by ``cycle_bench``.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import tracemalloc
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from benchmarks.bench_env import PRICE, SIZE, BenchEnv, CycleSample, side_of, symbol
from positionbot.tracker.exchange.paper import PaperExchange

# One cycle's 1% of changes cycles through this mix; opens balance closes, so n stays put.
CHANGE_MIX = ("increase", "increase", "increase", "increase", "increase", "increase",
              "decrease", "decrease", "close", "open")
INCREASE = Decimal("0.5")
DECREASE = Decimal("0.25")
FIRST_MEMORY_READING = 10


@dataclass(frozen=True, slots=True)
class Options:
    steady_cycles: int
    memory_cycles: int  # the second memory reading is taken after this many steady cycles
    memory_cycles_large: int  # the same at 10,000 positions and more, where cycles are slower
    changed_cycles: int
    stops: bool  # every position carries a live stop loss, as a careful trader's would

    def memory_cycles_for(self, n: int) -> int:
        return self.memory_cycles_large if n >= 10_000 else self.memory_cycles


@dataclass(frozen=True, slots=True)
class MemoryReading:
    cycles: int
    traced_bytes: int  # tracemalloc: Python objects allocated since tracing began, still alive
    rss_bytes: int | None  # resident set size now (Linux /proc), None where unavailable


@dataclass(slots=True)
class SizeResult:
    n: int
    first_sync: CycleSample
    late_new: CycleSample  # n positions appearing after a first, empty sync
    restart_s: float  # a new tracker loading n open trades from the database
    stops_placed: CycleSample | None  # the cycle placing n pending stop losses
    steady: list[CycleSample]
    memory: tuple[MemoryReading, MemoryReading]
    changed: list[CycleSample]
    changed_expected: int  # changes made on the exchange before each 1% cycle
    db_bytes: dict[str, tuple[int, int]] = field(default_factory=dict)  # (db, WAL) by scenario
    peak_rss_kib: int = 0


def one_percent(n: int) -> int:
    return max(1, round(n / 100))


class ChangeMaker:
    """Makes 1% of the positions change between cycles, as a trader would by hand."""

    def __init__(self, n: int, seed: int = 7) -> None:
        self.per_cycle = one_percent(n)
        self._rng = random.Random(seed)
        self._open: dict[int, Decimal] = dict.fromkeys(range(n), SIZE)  # market index -> size
        self._next_market = n
        self._turn = 0

    @staticmethod
    def spare_markets(n: int, cycles: int) -> int:
        """Markets the opens will need beyond the first ``n``."""
        opens = CHANGE_MIX.count("open")
        return one_percent(n) * cycles * opens // len(CHANGE_MIX) + opens

    def apply(self, venue: PaperExchange) -> None:
        chosen = self._rng.sample(sorted(self._open), min(self.per_cycle, len(self._open)))
        for i in chosen:
            kind = CHANGE_MIX[self._turn % len(CHANGE_MIX)]
            self._turn += 1
            if kind == "open":
                self._open_new(venue)
            elif kind == "close":
                self._trade(venue, i, -self._open.pop(i))
            elif kind == "decrease" and self._open[i] > DECREASE:
                self._trade(venue, i, -DECREASE)
            else:
                self._trade(venue, i, INCREASE)

    def _open_new(self, venue: PaperExchange) -> None:
        i = self._next_market
        self._next_market += 1
        venue.set_mark(symbol(i), PRICE)
        self._open[i] = Decimal(0)
        self._trade(venue, i, SIZE)

    def _trade(self, venue: PaperExchange, i: int, delta: Decimal) -> None:
        side = side_of(i)
        if delta > 0:
            venue.manual_order(symbol(i), side.entry_order_side, delta)
            self._open[i] += delta
        else:
            venue.manual_order(symbol(i), side.exit_order_side, -delta, reduce_only=True)
            if i in self._open:
                self._open[i] += delta


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _reading(cycles: int) -> MemoryReading:
    gc.collect()
    return MemoryReading(cycles, tracemalloc.get_traced_memory()[0], _rss_bytes())


async def _memory(env: BenchEnv, cycles: int) -> tuple[MemoryReading, MemoryReading]:
    """Steady cycles under tracemalloc; read after the 10th and after the last."""
    tracemalloc.start()
    try:
        first: MemoryReading | None = None
        for done in range(1, cycles + 1):
            await env.cycle()
            if done == FIRST_MEMORY_READING:
                first = _reading(done)
        assert first is not None
        return first, _reading(cycles)
    finally:
        tracemalloc.stop()


async def _all_new_after_empty_sync(n: int, workdir: Path) -> tuple[CycleSample, tuple[int, int]]:
    """n positions opened by hand after the tracker's first (empty) sync: they need fills."""
    env = await BenchEnv.open(workdir / "late.db", n)
    try:
        await env.cycle()
        env.trade_by_hand(range(n))
        return await env.cycle(), env.db_bytes()
    finally:
        await env.close()


async def run_size(n: int, options: Options, workdir: Path) -> SizeResult:
    memory_cycles = max(options.memory_cycles_for(n), FIRST_MEMORY_READING)
    env = await BenchEnv.open(workdir / "bench.db",
                              n + ChangeMaker.spare_markets(n, options.changed_cycles))
    try:
        db: dict[str, tuple[int, int]] = {}
        env.seed(range(n))
        first = await env.cycle()
        db["all new"] = env.db_bytes()
        stops_placed = None
        if options.stops:
            restart_s = await env.add_pending_stops()
            stops_placed = await env.cycle()
        else:
            restart_s = await env.start_tracker()
        steady = [await env.cycle() for _ in range(options.steady_cycles)]
        db["steady"] = env.db_bytes()
        memory = await _memory(env, memory_cycles)
        db["memory"] = env.db_bytes()
        maker = ChangeMaker(n)
        changed = []
        for _ in range(options.changed_cycles):
            maker.apply(env.exchange)
            changed.append(await env.cycle())
        db["1% changed"] = env.db_bytes()
    finally:
        await env.close()
    late_new, db["all new after empty sync"] = await _all_new_after_empty_sync(n, workdir)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return SizeResult(n, first, late_new, restart_s, stops_placed, steady, memory, changed,
                      maker.per_cycle, db, peak)
