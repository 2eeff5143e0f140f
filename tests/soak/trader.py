"""A random trader working the venue by hand while the bot runs (and while it is dead).

Every action is something a trader does in the exchange app (open, add, partly close, flip,
close), something the market does (mark moves, a stop firing), or a ``/sl`` typed in the chat.
Amounts respect each market's step and minimum notional, so almost every action takes effect.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.tracker.core.models import Order, OrderSide, Position, Side
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.paper import PaperExchange

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
MARKS = {BTC: Decimal("60000"), ETH: Decimal("3000"), SOL: Decimal("150")}


@dataclass(frozen=True)
class Lot:
    """Opening sizes in steps: ``low``..``high`` steps, each above the minimum notional."""

    low: int
    high: int


LOTS = {BTC: Lot(2, 8), ETH: Lot(10, 60), SOL: Lot(10, 40)}
ACTIONS = ("open", "increase", "partial_close", "flip", "close", "stop_trigger", "mark_move",
           "sl_set", "sl_off")
_WEIGHTS = (6, 3, 3, 2, 2, 2, 2, 4, 1)


class RandomTrader:
    """``act()`` performs one random action and returns its name (counted in ``done``)."""

    def __init__(self, venue: PaperExchange, api: FakeBotApi, command_chat: int,
                 rng: random.Random) -> None:
        self.venue = venue
        self.api = api
        self.chat = command_chat
        self.rng = rng
        self.done: Counter[str] = Counter()
        self.rejected = 0

    def act(self, *, chat: bool = True) -> str:
        """One action; ``chat=False`` keeps to the venue (nobody reads a typed /sl)."""
        for _ in range(20):
            name = self.rng.choices(ACTIONS, _WEIGHTS)[0]
            if not chat and name.startswith("sl_"):
                continue
            try:
                performed = getattr(self, f"_{name}")()
            except OrderRejectedError:
                self.rejected += 1
                continue
            if performed:
                self.done[name] += 1
                return name
        return "nothing"

    # --- helpers ------------------------------------------------------------------------------

    def _positions(self) -> dict[str, Position]:
        return {p.symbol: p for p in self.venue.positions()}

    def _steps(self, symbol: str, count: int) -> Decimal:
        return self.venue.markets[symbol].amount_step * count

    def _lot(self, symbol: str) -> Decimal:
        lot = LOTS[symbol]
        return self._steps(symbol, self.rng.randint(lot.low, lot.high))

    def _order(self, symbol: str, side: OrderSide, amount: Decimal, *,
               reduce_only: bool = False) -> None:
        self.venue.manual_order(symbol, side, amount, reduce_only=reduce_only)

    def _held(self) -> Position | None:
        positions = list(self._positions().values())
        return self.rng.choice(positions) if positions else None

    # --- the actions ----------------------------------------------------------------------------

    def _open(self) -> bool:
        flat = [s for s in LOTS if s not in self._positions()]
        if not flat:
            return False
        symbol = self.rng.choice(flat)
        side = self.rng.choice((OrderSide.BUY, OrderSide.SELL))
        self._order(symbol, side, self._lot(symbol))
        return True

    def _increase(self) -> bool:
        held = self._held()
        if held is None:
            return False
        self._order(held.symbol, held.side.entry_order_side, self._lot(held.symbol))
        return True

    def _partial_close(self) -> bool:
        held = self._held()
        if held is None:
            return False
        step = self.venue.markets[held.symbol].amount_step
        part = (held.size * Decimal(str(self.rng.uniform(0.2, 0.7))) / step).to_integral_value(
            ROUND_DOWN) * step
        if not step <= part < held.size:
            return False
        self._order(held.symbol, held.side.exit_order_side, part, reduce_only=True)
        return True

    def _flip(self) -> bool:
        held = self._held()
        if held is None:
            return False
        self._order(held.symbol, held.side.exit_order_side, held.size + self._lot(held.symbol))
        return True

    def _close(self) -> bool:
        held = self._held()
        if held is None:
            return False
        self._order(held.symbol, held.side.exit_order_side, held.size, reduce_only=True)
        return True

    def _stop_trigger(self) -> bool:
        """Move the mark just through a resting stop: it fires into a market order."""
        stops: list[Order] = self.venue.open_stop_orders()
        if not stops:
            return False
        stop = self.rng.choice(stops)
        assert stop.trigger_price is not None
        tick = self.venue.markets[stop.symbol].price_tick
        through = tick * 10
        price = (stop.trigger_price - through if stop.side is OrderSide.SELL
                 else stop.trigger_price + through)
        self.venue.set_mark(stop.symbol, price)
        return True

    def _mark_move(self) -> bool:
        """A small move that drifts back towards the starting price."""
        symbol = self.rng.choice(list(LOTS))
        mark, home = self.venue.mark(symbol), MARKS[symbol]
        pull = (home - mark) / 4
        jitter = mark * Decimal(str(self.rng.uniform(-0.004, 0.004)))
        tick = self.venue.markets[symbol].price_tick
        price = ((mark + pull + jitter) / tick).to_integral_value() * tick
        self.venue.set_mark(symbol, price)
        return True

    def _sl_set(self) -> bool:
        """``/sl BASE <price>`` (or a percent) on the losing side of the mark."""
        held = self._held()
        if held is None:
            return False
        base = held.symbol.split("/")[0]
        percent = self.rng.choice((2, 3, 4, 5))
        if self.rng.random() < 0.3:
            self.api.user_message(self.chat, f"/sl {base} -{percent}%")
            return True
        mark = self.venue.mark(held.symbol)
        factor = 1 - Decimal(percent) / 100 if held.side is Side.LONG else 1 + Decimal(percent) / 100
        tick = self.venue.markets[held.symbol].price_tick
        price = (mark * factor / tick).to_integral_value() * tick
        self.api.user_message(self.chat, f"/sl {base} {price}")
        return True

    def _sl_off(self) -> bool:
        held = self._held()
        if held is None:
            return False
        self.api.user_message(self.chat, f"/sl {held.symbol.split('/')[0]} off")
        return True
