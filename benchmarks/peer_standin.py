"""STAND-IN for the peer tracker of issue 15 — not the peer's code, and not positionbot.

    python -m benchmarks.peer_standin URL N [--steady K] [--changed K] [--all-new-budget S]

A minimal id-set reconciler written for the comparison, with what the issue says the peer
does: it reads the positions through real ccxt (``binanceusdm.fetch_positions``, ccxt's unified
parse) over local HTTP, keeps them by id (``symbol:side``) and reconciles by id-set membership
only (no sizes compared, no P&L, no stops, no database), and persists its state by rewriting
one JSON file for every change it records. Prints one JSON object; the floor is measured in the
same run, after each steady cycle (the one request it makes, read with ``json.loads``).
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

from benchmarks.real_bot import Floor, bench_ccxt_config


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

    def __init__(self, exchange: Any, path: Path) -> None:
        self._exchange = exchange
        self._path = path
        self.state: dict[str, dict[str, Any]] = {}
        self.requests = 0

    async def cycle(self, budget_s: float | None = None) -> tuple[PeerSample, bool]:
        """One reconcile; False when ``budget_s`` ran out before every change was written."""
        t0 = time.perf_counter()
        self.requests += 1
        positions = await self._exchange.fetch_positions()
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
                    return PeerSample(time.perf_counter() - t0, 1, changes), False
        return PeerSample(time.perf_counter() - t0, 1, changes), True

    def _persist(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self._path)


async def run(url: str, n: int, steady: int, changed: int, budget_s: float) -> PeerResult:
    result = PeerResult(n)
    floor = Floor(url)
    exchange = ccxt.binanceusdm({"apiKey": "bench-key", "secret": "bench-secret",
                                 "enableRateLimit": True, **bench_ccxt_config(url)})
    try:
        with tempfile.TemporaryDirectory(prefix="peer-standin-") as tmp:
            peer = IdSetReconciler(exchange, Path(tmp) / "positions.json")
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
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.n, args.steady, args.changed, args.all_new_budget))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
