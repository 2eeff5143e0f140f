"""STAND-IN for the peer tracker of issue 15 — not the peer's code, and not positionbot.

    python -m benchmarks.peer_standin URL N [--steady K] [--changed K] [--all-new-budget S]
        [--exchange binanceusdm|bybit|okx]

A minimal id-set reconciler written for the comparison, with what the issue says the peer
does: it reads the positions through real ccxt (``binanceusdm.fetch_positions``, ccxt's unified
parse) over local HTTP, keeps them by id (``symbol:side``) and reconciles by id-set membership
only (no sizes compared, no P&L, no stops, no database), and persists its state by rewriting
one JSON file for every change it records. Prints one JSON object; the floor is measured in the
same run, after each steady cycle (the one request it makes, read with ``json.loads``). On
Bybit it pages through the whole book (ccxt's ``paginate``, 200 positions a request) and the
floor replays those requests; OKX answers every position in one request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.real_bot import Floor, ReplayFloor, bench_ccxt_config, bench_ccxt_config_for
from benchmarks.real_venues import BINANCE, EXCHANGES, VENUES, Sent, record_gets


@dataclass(frozen=True, slots=True)
class PeerSample:
    cycle_s: float
    requests: int
    changes: int


@dataclass(slots=True)
class PeerResult:
    n: int
    all_new: PeerSample | None = None
    all_new_stopped_after: int | None = None  # changes written when the time budget ran out
    steady: list[PeerSample] = field(default_factory=list)
    floor_s: list[float] = field(default_factory=list)
    changed: list[PeerSample] = field(default_factory=list)


class IdSetReconciler:
    """Positions by id in a dict, the whole dict written to ``path`` after every change."""

    def __init__(self, exchange: Any, path: Path, sent: Sent | None = None,
                 params: dict[str, Any] | None = None) -> None:
        self._exchange = exchange
        self._path = path
        self._sent = sent  # every GET ccxt sent, on an exchange that pages (else 1 a cycle)
        self._params = params or {}
        self.state: dict[str, dict[str, Any]] = {}
        self.requests = 0

    async def cycle(self, budget_s: float | None = None) -> tuple[PeerSample, bool]:
        """One reconcile; False when ``budget_s`` ran out before every change was written."""
        t0 = time.perf_counter()
        self.requests += 1
        if self._sent is not None:
            self._sent.clear()
            positions = await self._exchange.fetch_positions(None, self._params)
        else:
            positions = await self._exchange.fetch_positions()
        sent = 1 if self._sent is None else len(self._sent)
        seen: dict[str, dict[str, Any]] = {}
        for p in positions:
            if p.get("contracts"):
                seen[f"{p['symbol']}:{p['side']}"] = {
                    "symbol": p["symbol"], "side": p["side"], "contracts": p["contracts"],
                    "entryPrice": p["entryPrice"]}
        changes = 0
        for key in [k for k in self.state if k not in seen]:
            del self.state[key]
            self._persist()
            changes += 1
        for key, position in seen.items():
            if key not in self.state:
                self.state[key] = position
                self._persist()
                changes += 1
                if budget_s is not None and time.perf_counter() - t0 > budget_s:
                    return PeerSample(time.perf_counter() - t0, sent, changes), False
        return PeerSample(time.perf_counter() - t0, sent, changes), True

    def _persist(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self._path)


async def run(url: str, n: int, steady: int, changed: int, budget_s: float,
              exchange_id: str = BINANCE) -> PeerResult:
    result = PeerResult(n)
    if exchange_id == BINANCE:
        floor = Floor(url)
        exchange = ccxt.binanceusdm({"apiKey": "bench-key", "secret": "bench-secret",
                                     "enableRateLimit": True, **bench_ccxt_config(url)})
        sent, params = None, None
    else:
        venue = VENUES[exchange_id]
        exchange = getattr(ccxt, venue.ccxt_id)({
            "apiKey": "bench-key", "secret": "bench-secret", "password": venue.password,
            "enableRateLimit": True, **bench_ccxt_config_for(exchange_id, url)})
        sent, params = record_gets(exchange), dict(venue.peer_params)
        floor = ReplayFloor(url, sent)
    try:
        with tempfile.TemporaryDirectory(prefix="peer-standin-") as tmp:
            peer = IdSetReconciler(exchange, Path(tmp) / "positions.json", sent, params)
            await exchange.load_markets()
            await floor.control("/bench/seed", start=0, stop=n)
            sample, complete = await peer.cycle(budget_s)
            result.all_new = sample
            if not complete:
                result.all_new_stopped_after = sample.changes
                await peer.cycle()  # the rest, untimed, so the later cycles start level
            await peer.cycle()
            for _ in range(steady):
                result.steady.append((await peer.cycle())[0])
                result.floor_s.append(await floor.measure(positions_only=True))
            for _ in range(changed):
                await floor.control("/bench/change")
                result.changed.append((await peer.cycle())[0])
    finally:
        await exchange.close()
        await floor.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("n", type=int)
    parser.add_argument("--steady", type=int, default=30)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--all-new-budget", type=float, default=120.0,
                        help="seconds the all-new cycle may take before it is reported as stopped")
    parser.add_argument("--exchange", choices=EXCHANGES, default=BINANCE)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.n, args.steady, args.changed, args.all_new_budget,
                             args.exchange))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
