"""Crash-safety soak: the whole bot process, killed with SIGKILL at random moments, again and again.

The local Binance USDⓈ-M server (real ccxt talks to it) and the local Bot API server (real
python-telegram-bot talks to it) run in this process; ``python -m positionbot run`` runs as a child.
A random trader works the venue by hand — opens, adds, partial closes, flips, closes, stop
triggers via mark moves — and types ``/sl`` in the chat. The child is killed with SIGKILL:

* ``random``: at a random moment while the trader is active;
* ``push``: 0–20 ms after Telegram accepted a push (the window that can duplicate a push);
* ``order``: 0–20 ms after the exchange accepted an order (a stop placed but not recorded).

While it is dead the trader may act again; then it is restarted and left to settle. After each
settle ``tests.soak.audit`` must find the database equal to the exchange and every change
pushed; duplicates are counted and must be explained by the push window.

    python -m tests.soak.soak --kills 50            # long form: prints the results table
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.soak.audit import Audit, audit, read_ledger
from tests.soak.bot_process import BotConfig, BotProcess
from tests.soak.report import KillRecord, SoakResult
from tests.soak.trader import MARKS, RandomTrader

COMMAND_CHAT = 4242
PUSH_CHAT = 5151
MODES = ("random", "push", "order")
TRIP_DELAY_S = 0.02  # a tripped kill lands uniformly within this long after the trigger
Tripwire = Callable[[], None]


class TripwireBotApi(FakeBotApi):
    """The fake Bot API that calls ``tripwire`` once, right after accepting a push."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tripwire: Tripwire | None = None

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        result = await super()._api_sendMessage(params)
        if self.tripwire is not None and result["chat"]["id"] == PUSH_CHAT:
            wire, self.tripwire = self.tripwire, None
            wire()
        return result


class TripwireBinance(BinanceServer):
    """The fake Binance server that calls ``tripwire`` once, right after accepting an order."""

    def __init__(self, venue: PaperExchange) -> None:
        super().__init__(venue)
        self.tripwire: Tripwire | None = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        response = await super()._dispatch(request)
        if (self.tripwire is not None and request.method == "POST" and response.status == 200
                and request.path.endswith(("/order", "/algoOrder"))):
            wire, self.tripwire = self.tripwire, None
            wire()
        return response


@dataclass(frozen=True)
class SoakSettings:
    kills: int = 50
    seed: int = 1
    chaos_s: tuple[float, float] = (0.5, 4.0)  # trading before a random kill
    tripwire_window_s: float = 8.0  # a tripwire that did not fire by then: kill anyway
    settle_timeout_s: float = 60.0
    actions_while_down: int = 2  # at most


@dataclass
class _Kill:
    """One planned kill: what fired it, once it fired."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    fired_by: str = ""


class Soak:
    def __init__(self, settings: SoakSettings, workdir: Path, exchange: TripwireBinance,
                 api: TripwireBotApi) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.exchange = exchange
        self.api = api
        self.trader = RandomTrader(exchange.venue, api, COMMAND_CHAT, self.rng)
        config = BotConfig(api.base_url, ccxt_config_for(exchange.base_url), COMMAND_CHAT,
                           PUSH_CHAT).write(workdir / "config.toml")
        self.bot = BotProcess(workdir, config, api.token)

    async def run(self) -> SoakResult:
        started = time.monotonic()
        for _ in range(3):
            self.trader.act(chat=False)
        await self.bot.start()
        settle_s, first = await self._settle()
        records = [KillRecord(0, "start", "", 0, 0, settle_s, first.problems, 0)]
        duplicates = len(first.duplicates)
        for index in range(1, self.settings.kills + 1):
            mode = MODES[(index - 1) % len(MODES)]
            kill, before = await self._trade_until_killed(mode)
            down = sum(self.trader.act() != "nothing"
                       for _ in range(self.rng.randint(0, self.settings.actions_while_down)))
            await self.bot.start()
            settle_s, checked = await self._settle()
            records.append(KillRecord(index, mode, kill.fired_by, before, down, settle_s,
                                      checked.problems, len(checked.duplicates) - duplicates))
            duplicates = len(checked.duplicates)
        exit_code = await self.bot.stop()
        final = self._audit()
        return SoakResult(records, final, Counter(self.trader.done), self.trader.rejected,
                          exit_code, self._tracebacks(), self._count_logged("leftover stop"),
                          time.monotonic() - started, self.exchange.total_requests,
                          len(self.api.messages(PUSH_CHAT)))

    async def _trade_until_killed(self, mode: str) -> tuple[_Kill, int]:
        """Trade by hand until the kill of ``mode`` fires (or, for a tripwire, times out)."""
        kill = _Kill()
        loop = asyncio.get_running_loop()

        def fire(by: str) -> None:
            if not kill.event.is_set():
                kill.fired_by = by
                self.bot.kill()
                kill.event.set()

        def arm(by: str) -> Tripwire:
            def trip() -> None:
                loop.call_later(self.rng.uniform(0, TRIP_DELAY_S), fire, by)
            return trip

        if mode == "push":
            self.api.tripwire = arm("push")
        elif mode == "order":
            self.exchange.tripwire = arm("order")
        window = (self.rng.uniform(*self.settings.chaos_s) if mode == "random"
                  else self.settings.tripwire_window_s)
        deadline = time.monotonic() + window
        actions = 0
        while not kill.event.is_set() and time.monotonic() < deadline:
            self.trader.act()
            actions += 1
            pause = min(self.rng.uniform(0.1, 0.8), max(deadline - time.monotonic(), 0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(kill.event.wait(), pause)
        self.api.tripwire = self.exchange.tripwire = None
        fire("random" if mode == "random" else "fallback")
        await self.bot.wait()
        return kill, actions

    async def _settle(self) -> tuple[float, Audit]:
        """Wait until the restarted bot has cycled and the audit passes, or the timeout."""
        started = time.monotonic()
        while True:
            checked = self._audit()
            cycled = "cycle main ok" in self.bot.log_text()
            elapsed = time.monotonic() - started
            if (checked.ok and cycled) or elapsed > self.settings.settle_timeout_s:
                if not cycled:
                    checked.problems.append("the restarted bot completed no cycle")
                return elapsed, checked
            await asyncio.sleep(0.25)

    def _audit(self) -> Audit:
        try:
            ledger = read_ledger(self.bot.database)
        except Exception as err:  # not created yet, or mid-migration
            return Audit(problems=[f"database not readable: {err}"])
        venue = self.exchange.venue
        return audit(ledger, venue.positions(), venue.open_stop_orders(),
                     self.api.messages(PUSH_CHAT), PUSH_CHAT)

    def _count_logged(self, text: str) -> int:
        return sum(path.read_text(errors="replace").count(text) for path in self.bot.logs)

    def _tracebacks(self) -> list[str]:
        """The last line of every traceback the bot logged, over every start."""
        found = []
        for path in self.bot.logs:
            lines = path.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if line.startswith("Traceback"):
                    tail = next((x for x in lines[i + 1:] if x and not x.startswith(" ")), "?")
                    found.append(f"{path.name}: {tail}")
        return found


async def run_soak(settings: SoakSettings, workdir: Path) -> SoakResult:
    """The soak in ``workdir`` (config, database and one log per start are left there)."""
    venue = PaperExchange(default_markets(), marks=MARKS)
    exchange, api = TripwireBinance(venue), TripwireBotApi()
    async with exchange, api:
        soak = Soak(settings, workdir, exchange, api)
        try:
            return await soak.run()
        finally:
            soak.bot.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs to deliver (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep config, database and logs here (default: a temporary dir)")
    args = parser.parse_args(argv)
    # A request cut off by a SIGKILL makes aiohttp log a traceback: expected here, not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    settings = SoakSettings(kills=args.kills, seed=args.seed)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="positionbot-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run_soak(settings, workdir))
    sys.stdout.write(result.table() + "\n")
    if not result.passed:
        sys.stdout.write(f"FAILED: config, database and logs are in {workdir}\n")
        return 1
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
