"""The benchmark's printout: a Markdown table per concern, then the SPEC §7 verdicts."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

from benchmarks.bench_env import CycleSample
from benchmarks.notifier_bench import (
    TELEGRAM_CHAT_INTERVAL_S,
    TELEGRAM_GROUP_PER_MIN,
    TELEGRAM_OVERALL_PER_S,
    DeliveryRun,
)
from benchmarks.scenarios import SizeResult

TARGET_SIZE = 10_000
MAX_STEADY_REQUESTS = 2
MAX_STEADY_LOCAL_S = 0.050
MAX_ALL_NEW_S = 1.5
MAX_MEMORY_GROWTH = 64 * 1024  # bytes of traced memory: below this is noise (SQLite, asyncio)
CHAT_GAP_TOLERANCE_S = 0.9  # the client paces at 1 s; arrival at the server jitters a little


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def dist(values: Sequence[float]) -> str:
    return f"{ms(statistics.median(values))} / {ms(p95(values))}" if values else "-"


def count_range(values: Sequence[int]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,} (median {statistics.median(values):,.0f})"


def data_size(n_bytes: int | None) -> str:
    if n_bytes is None:
        return "n/a"
    if abs(n_bytes) >= 1024 * 1024:
        return f"{n_bytes / 1024 / 1024:,.1f} MiB"
    return f"{n_bytes / 1024:,.1f} KiB"


def db_size(sizes: tuple[int, int] | None) -> str:
    if sizes is None:
        return "-"
    db, wal = sizes
    return f"{data_size(db)} + WAL {data_size(wal)}"


def growth(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return "n/a"
    delta = after - before
    return f"{'+' if delta >= 0 else '-'}{data_size(abs(delta))} ({data_size(before)} -> {data_size(after)})"


def memory_growth(r: SizeResult) -> int:
    first, last = r.memory
    return last.traced_bytes - first.traced_bytes


def _requests(samples: Sequence[CycleSample]) -> str:
    report = count_range([s.report_calls for s in samples])
    gateway = count_range([s.gateway_calls for s in samples])
    return report if report == gateway else f"{report} (gateway counted {gateway})"


def _one(s: CycleSample | None, field: Callable[[CycleSample], str]) -> str:
    return "-" if s is None else field(s)


Row = tuple[str, Callable[[SizeResult], str]]

ROWS: tuple[Row, ...] = (
    ("all new, first sync (adopted, no fill look-ups): cycle", lambda r: ms(r.first_sync.duration_s)),
    ("all new, first sync: own work / local_s", lambda r: f"{ms(r.first_sync.own_s)} / "
                                                          f"{ms(r.first_sync.local_s)}"),
    ("all new, first sync: requests / changes", lambda r: f"{r.first_sync.report_calls:,} / "
                                                          f"{r.first_sync.changes:,}"),
    ("all new after an empty sync: cycle", lambda r: ms(r.late_new.duration_s)),
    ("all new after an empty sync: requests / priced from fills",
     lambda r: f"{r.late_new.report_calls:,} / {r.late_new.from_fills:,} of {r.late_new.changes:,}"),
    ("restart: load open trades", lambda r: ms(r.restart_s)),
    ("place a stop loss on every position: cycle",
     lambda r: _one(r.stops_placed, lambda s: ms(s.duration_s))),
    ("place a stop loss on every position: requests",
     lambda r: _one(r.stops_placed, lambda s: f"{s.report_calls:,}")),
    ("steady: local_s median / p95", lambda r: dist([s.local_s for s in r.steady])),
    ("steady: own work (cycle - exchange) median / p95", lambda r: dist([s.own_s for s in r.steady])),
    ("steady: cycle median / p95", lambda r: dist([s.duration_s for s in r.steady])),
    ("steady: requests per cycle", lambda r: _requests(r.steady)),
    ("steady: changes (must be 0)", lambda r: count_range([s.changes for s in r.steady])),
    ("1% changed: changes applied / made per cycle",
     lambda r: f"{count_range([s.changes for s in r.changed])} / {r.changed_expected:,}"),
    ("1% changed: local_s median / p95", lambda r: dist([s.local_s for s in r.changed])),
    ("1% changed: own work median / p95", lambda r: dist([s.own_s for s in r.changed])),
    ("1% changed: cycle median / p95", lambda r: dist([s.duration_s for s in r.changed])),
    ("1% changed: requests per cycle", lambda r: _requests(r.changed)),
    ("1% changed: priced from fills per cycle", lambda r: count_range([s.from_fills for s in r.changed])),
    ("database after all new", lambda r: db_size(r.db_bytes.get("all new"))),
    ("database after the steady cycles", lambda r: db_size(r.db_bytes.get("steady"))),
    ("database after the memory cycles", lambda r: db_size(r.db_bytes.get("memory"))),
    ("database after 1% changed", lambda r: db_size(r.db_bytes.get("1% changed"))),
    ("database, all new after an empty sync", lambda r: db_size(r.db_bytes.get("all new after empty sync"))),
    ("memory cycles (readings after 10 and after N)", lambda r: f"10 / {r.memory[1].cycles:,}"),
    ("tracemalloc current: growth 10 -> N", lambda r: growth(r.memory[0].traced_bytes,
                                                              r.memory[1].traced_bytes)),
    ("RSS: growth 10 -> N", lambda r: growth(r.memory[0].rss_bytes, r.memory[1].rss_bytes)),
    ("peak RSS of the process so far", lambda r: data_size(r.peak_rss_kib * 1024)),
)


def cycle_table(results: Sequence[SizeResult]) -> list[str]:
    header = ["metric", *(f"{r.n:,} positions" for r in results)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, cell in ROWS:
        lines.append("| " + " | ".join([label, *(cell(r) for r in results)]) + " |")
    return lines


def notifier_table(runs: Sequence[DeliveryRun]) -> list[str]:
    lines = [
        "| notifier run | rows | messages | seconds | rows/s | messages/s "
        f"| most messages in 1 s (Telegram: {TELEGRAM_OVERALL_PER_S}) "
        f"| most in any minute, all chats | most to one chat in any minute (Telegram: "
        f"{TELEGRAM_GROUP_PER_MIN} per group) "
        f"| shortest gap in one chat (Telegram: ~{TELEGRAM_CHAT_INTERVAL_S:.0f} s) "
        "| worst delay of a push | drained |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        gap = "-" if run.min_chat_gap_s is None else f"{run.min_chat_gap_s:.2f} s"
        lines.append(
            f"| {run.name} | {run.rows:,} | {run.messages:,} | {run.seconds:.2f} | "
            f"{run.rows_per_s:,.1f} | {run.messages_per_s:,.1f} | {run.max_overall_per_s} | "
            f"{run.max_overall_per_min} | {run.max_chat_per_min} | {gap} | "
            f"{_delay(run.worst_delay_s)} | {'yes' if run.complete else 'NO'} |")
    return lines


def _delay(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'MISS'}  {text}"


def targets(results: Sequence[SizeResult]) -> list[str]:
    """SPEC §7, judged at 10,000 positions on the p95 of the steady cycles."""
    at = next((r for r in results if r.n == TARGET_SIZE), None)
    lines = []
    if at is None:
        lines.append(f"n/a   speed targets: {TARGET_SIZE:,} positions not among the sizes measured")
    else:
        requests = max(max(s.report_calls, s.gateway_calls) for s in at.steady)
        local = p95([s.local_s for s in at.steady])
        own = p95([s.own_s for s in at.steady])
        lines += [
            _verdict(requests <= MAX_STEADY_REQUESTS,
                     f"steady cycle at 10,000: <= {MAX_STEADY_REQUESTS} exchange requests "
                     f"(measured: at most {requests})"),
            _verdict(local < MAX_STEADY_LOCAL_S,
                     f"steady cycle at 10,000: local work < 50 ms, as CycleReport.local_s "
                     f"(classification + accounting + DB) (measured p95 {ms(local)})"),
            _verdict(own < MAX_STEADY_LOCAL_S,
                     f"steady cycle at 10,000: all of the cycle's own work < 50 ms, i.e. duration "
                     f"minus time inside exchange calls (measured p95 {ms(own)})"),
            _verdict(at.first_sync.duration_s < MAX_ALL_NEW_S,
                     f"10,000 new positions applied < 1.5 s, first sync "
                     f"(measured {ms(at.first_sync.duration_s)})"),
            _verdict(at.late_new.duration_s < MAX_ALL_NEW_S,
                     f"10,000 new positions applied < 1.5 s, after an empty sync, with fill "
                     f"look-ups (measured {ms(at.late_new.duration_s)})"),
        ]
    worst = max(results, key=memory_growth)
    lines.append(_verdict(
        memory_growth(worst) < MAX_MEMORY_GROWTH,
        f"no memory growth from cycle to cycle: traced growth < {data_size(MAX_MEMORY_GROWTH)} "
        f"between cycle 10 and cycle {worst.memory[1].cycles:,} at every size (worst: "
        f"{growth(worst.memory[0].traced_bytes, worst.memory[1].traced_bytes)} "
        f"at {worst.n:,} positions)"))
    return lines


def telegram_verdicts(runs: Sequence[DeliveryRun]) -> list[str]:
    """Production runs (limiter and pacing on) must stay inside Telegram's limits."""
    lines = []
    for run in runs:
        if not run.production:
            continue
        gap_ok = run.groups or run.min_chat_gap_s is None or \
            run.min_chat_gap_s >= CHAT_GAP_TOLERANCE_S
        group_ok = not run.groups or run.max_chat_per_min < TELEGRAM_GROUP_PER_MIN
        ok = (run.complete and run.max_overall_per_s < TELEGRAM_OVERALL_PER_S and gap_ok
              and group_ok)
        lines.append(_verdict(ok, f"{run.name}: drained {'all' if run.complete else 'NOT all'} "
                                  f"rows, at most {run.max_overall_per_s} messages in 1 s "
                                  f"(< {TELEGRAM_OVERALL_PER_S}), {run.max_overall_per_min} in "
                                  f"1 min, at most {run.max_chat_per_min} to one chat in 1 min, "
                                  f"shortest gap in one chat "
                                  f"{'-' if run.min_chat_gap_s is None else f'{run.min_chat_gap_s:.2f} s'}"
                                  f", worst delay of a push {_delay(run.worst_delay_s)}"))
    return lines
