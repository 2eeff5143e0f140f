"""Real-path benchmark: positionbot and the peer stand-in through real ccxt over local HTTP.

    python benchmarks/real_path.py [--sizes 100,1000,10000] [--quick] [--memory-cycles N]
        [--exchange binanceusdm|bybit|okx]

For each size: the Binance-format fake (``real_server``) starts in its own process with N
positions to seed; the bot (``real_bot``) runs in a process of its own against it, then, on a
fresh server, the peer stand-in (``peer_standin``). Prints one Markdown table with every figure
labelled by what it includes, then the issue 15 targets as PASS/MISS. ``--exchange bybit`` or
``okx`` runs the same against the Bybit v5 or OKX v5 fake, which page their listings, so a
cycle's request count and floor there include every page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cycle_bench import machine_info
from benchmarks.real_venues import BINANCE, EXCHANGES, VENUES
from benchmarks.scenarios import ChangeMaker
from positionbot.tracker.exchange.ccxt.order_pacing import OrderPacers

ROOT = Path(__file__).resolve().parent.parent
Result = dict[str, Any]


def _median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value == value else "-"


async def _child(args: list[str], out: TextIO) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        print(stderr.decode()[-3000:], file=out)
        raise RuntimeError(f"{' '.join(args[:1])} failed with {process.returncode}")
    result: Result = json.loads(stdout.decode().strip().splitlines()[-1])
    return result


async def _with_server(n: int, changed: int, run: Callable[[str], Any],
                       exchange: str = BINANCE) -> Result:
    markets = n + ChangeMaker.spare_markets(n, changed + 2)
    venue = [] if exchange == BINANCE else ["--exchange", exchange]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.real_server", "--markets", str(markets), "--open", str(n),
        *venue, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        assert server.stdout is not None
        url = (await asyncio.wait_for(server.stdout.readline(), 120)).decode().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the fake server did not start: {url!r}")
        result: Result = await run(url)
        return result
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            await asyncio.wait_for(server.wait(), 10)
        except TimeoutError:
            server.kill()
            await server.wait()


async def measure(n: int, args: argparse.Namespace, out: TextIO) -> tuple[Result, Result]:
    common = ["--steady", str(args.steady_cycles), "--changed", str(args.changed_cycles)]
    if args.exchange != BINANCE:
        common += ["--exchange", args.exchange]
    stops = ["--no-stops"] if args.no_stops else []
    t0 = time.perf_counter()
    bot = await _with_server(n, args.changed_cycles, lambda url: _child(
        ["benchmarks.real_bot", url, str(n), *common, *stops, "--memory",
         str(args.memory_cycles)], out),
        args.exchange)
    print(f"  bot at {n:,} positions: {time.perf_counter() - t0:.1f} s", file=out, flush=True)
    t0 = time.perf_counter()
    peer = await _with_server(n, args.changed_cycles, lambda url: _child(
        ["benchmarks.peer_standin", url, str(n), *common,
         "--all-new-budget", str(args.peer_budget)], out), args.exchange)
    print(f"  peer stand-in at {n:,} positions: {time.perf_counter() - t0:.1f} s", file=out,
          flush=True)
    return bot, peer


def _cycle(samples: Sequence[Result], key: str = "cycle_s") -> float:
    return _median_ms([s[key] for s in samples])


def _requests(samples: Sequence[Result]) -> str:
    values = sorted(s["requests"] for s in samples)
    if not values:
        return "-"
    return str(values[0]) if values[0] == values[-1] else (
        f"{values[0]}-{values[-1]} (median {statistics.median(values):g})")


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1024 / 1024:,.1f} MiB"


def _peer_all_new(peer: Result) -> str:
    sample = peer["all_new"]
    if peer["all_new_stopped_after"] is not None:
        return (f"> {sample['cycle_s']:,.0f} s (stopped after {peer['all_new_stopped_after']:,} "
                f"of {peer['n']:,} file writes)")
    return _ms(sample["cycle_s"] * 1000)


def _rss(bot: Result) -> str:
    readings = bot["rss_bytes"]
    if len(readings) < 2:
        return "-"
    (c0, r0), (c1, r1) = readings[0], readings[-1]
    if r0 is None or r1 is None:
        return "n/a"
    return f"{_mib(r0)} → {_mib(r1)} ({(r1 - r0) / 1024 / 1024:+.1f} MiB, cycle {c0} → {c1:,})"


Row = tuple[str, Callable[[Result, Result], str]]

ROWS: tuple[Row, ...] = (
    ("all new, first sync: positionbot (adopted at entry, no fill look-ups)",
     lambda b, p: _ms(b["all_new"]["cycle_s"] * 1000)),
    ("all new: peer stand-in (one JSON file write per new id)", lambda b, p: _peer_all_new(p)),
    ("steady cycle, median: positionbot (positions + open stops)", lambda b, p: _ms(_cycle(b["steady"]))),
    ("steady cycle, median: peer stand-in (positions only)", lambda b, p: _ms(_cycle(p["steady"]))),
    ("floor, median: HTTP + json.loads of positions + open stops (the bot's 2 requests)",
     lambda b, p: _ms(_median_ms(b["floor_s"]))),
    ("floor, median: HTTP + json.loads of positions only (the peer's 1 request)",
     lambda b, p: _ms(_median_ms(p["floor_s"]))),
    ("steady: positionbot cycle / its floor", lambda b, p: _ratio(_cycle(b["steady"]),
                                                                   _median_ms(b["floor_s"]))),
    ("steady: positionbot's own work, median (cycle minus time inside ccxt and the socket)",
     lambda b, p: _ms(_cycle(b["steady"], "own_s"))),
    ("steady: positionbot time inside ccxt, median", lambda b, p: _ms(_cycle(b["steady"], "ccxt_s"))),
    ("steady: requests per cycle, positionbot / peer",
     lambda b, p: f"{_requests(b['steady'])} / {_requests(p['steady'])}"),
    ("1% changed, median: positionbot (verified, priced from fills)",
     lambda b, p: _ms(_cycle(b["changed"]))),
    ("1% changed, median: peer stand-in (ids only)", lambda b, p: _ms(_cycle(p["changed"]))),
    ("1% changed: positionbot / its steady cycle",
     lambda b, p: _ratio(_cycle(b["changed"]), _cycle(b["steady"]))),
    ("1% changed: positionbot's own work, median", lambda b, p: _ms(_cycle(b["changed"], "own_s"))),
    ("1% changed: requests per cycle, positionbot / peer",
     lambda b, p: f"{_requests(b['changed'])} / {_requests(p['changed'])}"),
    ("1% changed: changes applied per cycle, positionbot (made on the exchange)",
     lambda b, p: f"{_changes(b['changed'])} ({b['changes_made']:,})"),
    ("stop loss on every position: placement cycle, positionbot (order pacing off: the fake "
     "enforces no order limits)",
     lambda b, p: "-" if b["stops_placed"] is None else _ms(b["stops_placed"]["cycle_s"] * 1000)),
    ("stop loss on every position: requests",
     lambda b, p: "-" if b["stops_placed"] is None else f"{b['stops_placed']['requests']:,}"),
    ("stop loss on every position: least wait Binance's order limits add (the pacer's windows)",
     lambda b, p: "-" if b["stops_placed"] is None
     else f"{paced_wait_s(b['n'], b.get('exchange', BINANCE)):,.0f} s"),
    ("RSS of the bot process after 10 → N real-path steady cycles", lambda b, p: _rss(b)),
    ("peak RSS of the bot process (ccxt markets included)", lambda b, p: _mib(b["peak_rss_bytes"])),
)


def paced_wait_s(orders: int, exchange: str = BINANCE) -> float:
    """How long the account's order windows hold back ``orders`` creates sent at once: each
    window lets ``kept`` through per ``seconds``, so the last one waits that many windows."""
    limits = OrderPacers.for_exchange(exchange).create_stop.limits
    return max((((orders - 1) // limit.kept) * limit.seconds for limit in limits), default=0.0)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b and a == a and b == b else "-"


def _changes(samples: Sequence[Result]) -> str:
    values = sorted(s["changes"] for s in samples)
    return "-" if not values else f"{values[0]}-{values[-1]}" if values[0] != values[-1] \
        else str(values[0])


# On an exchange that pages its listings the request counts are not Binance's 2 and 1.
PAGED_LABELS = (("Binance's", "the exchange's"),
                ("(the bot's 2 requests)", "(every request the bot's steady cycle sent)"),
                ("(the peer's 1 request)", "(every request the peer's cycle sent)"))


def label_for(label: str, exchange: str) -> str:
    if exchange != BINANCE:
        for old, new in PAGED_LABELS:
            label = label.replace(old, new)
    return label


def table(results: Sequence[tuple[Result, Result]], exchange: str = BINANCE) -> list[str]:
    header = ["", *(f"{bot['n']:,}" for bot, _ in results)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, cell in ROWS:
        lines.append("| " + " | ".join([label_for(label, exchange),
                                        *(cell(b, p) for b, p in results)]) + " |")
    return lines


def targets(results: Sequence[tuple[Result, Result]]) -> list[str]:
    lines = []
    for bot, peer in results:
        steady, floor = _cycle(bot["steady"]), _median_ms(bot["floor_s"])
        changed = _cycle(bot["changed"])
        ahead = steady < _cycle(peer["steady"]) and changed < _cycle(peer["changed"])
        lines.append(_verdict(ahead, f"{bot['n']:,}: ahead of the peer stand-in (steady "
                                     f"{_ms(steady)} vs {_ms(_cycle(peer['steady']))}, 1% changed "
                                     f"{_ms(changed)} vs {_ms(_cycle(peer['changed']))})"))
        if bot["n"] < 10_000:
            continue
        own = _cycle(bot["steady"], "own_s")
        most = max((s["requests"] for s in bot["changed"]), default=0)
        lines += [
            _verdict(own <= 20, f"10,000: own work in a steady cycle <= 20 ms (median {_ms(own)})"),
            _verdict(steady <= 1.2 * floor, f"10,000: steady cycle <= 1.2x the floor "
                                            f"({_ratio(steady, floor)})"),
            _verdict(changed <= 1.3 * steady, f"10,000: 1% changed <= 1.3x steady "
                                              f"({_ratio(changed, steady)})"),
            _verdict(most <= 10, f"10,000: 1% changed in <= 10 requests (at most {most})"),
        ]
    return lines


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'MISS'}  {text}"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--quick", action="store_true",
                        help="10 steady, 5 changed and 100 memory cycles (default 30 / 10 / 1000)")
    parser.add_argument("--steady-cycles", type=int)
    parser.add_argument("--changed-cycles", type=int)
    parser.add_argument("--memory-cycles", type=int)
    parser.add_argument("--exchange", choices=EXCHANGES, default=BINANCE,
                        help="which exchange's fake and ccxt class (default binanceusdm)")
    parser.add_argument("--no-stops", action="store_true",
                        help="no stop losses placed: the stop listing stays empty (Bybit's 100 "
                             "pages of 50 and OKX's 100 pages of 100 stop short of 10,000 stops)")
    parser.add_argument("--peer-budget", type=float, default=120.0,
                        help="seconds the peer's all-new cycle may run (default 120)")
    args = parser.parse_args(list(argv))
    args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    args.steady_cycles = args.steady_cycles or (10 if args.quick else 30)
    args.changed_cycles = args.changed_cycles or (5 if args.quick else 10)
    args.memory_cycles = args.memory_cycles or (100 if args.quick else 1000)
    return args


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    started = time.perf_counter()
    print("# positionbot real-path benchmark", file=out)
    print(f"command: python benchmarks/real_path.py {' '.join(argv)}".rstrip(), file=out)
    for line in machine_info():
        print(line, file=out)
    print(f"cycles per size: {args.steady_cycles} steady, {args.changed_cycles} with 1% changed, "
          f"{args.memory_cycles} for memory", file=out, flush=True)
    results = [asyncio.run(measure(n, args, out)) for n in args.sizes]
    fake = "Binance-format fake" if args.exchange == BINANCE else VENUES[args.exchange].title
    print(f"\n## Real path (ccxt 4.5 {args.exchange} over local HTTP, {fake} in its own "
          f"process{', no stop losses' if args.no_stops else ''})", file=out)
    for line in table(results, args.exchange):
        print(line, file=out)
    print("\n## Targets (issue 15)", file=out)
    for line in targets(results):
        print(line, file=out)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\ntotal time: {time.perf_counter() - started:.1f} s; load average at the end: {load}",
          file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
