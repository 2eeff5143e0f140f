"""Properties over random trading: positions and P&L always agree with the fills that made them.

The recomputation below is written independently of the ledger, with signed quantities.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from positionbot.tracker.core.models import ZERO, Fill, Market, OrderSide, PositionMode, Side
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.clock import HandClock
from tests.support.paper import START

SYMBOL = "P/USDT:USDT"
MARKET = Market(SYMBOL, "P", "USDT", "USDT", contract_size=Decimal("0.1"),
                amount_step=Decimal("0.01"), price_tick=Decimal("0.5"))

prices = st.integers(1, 400).map(lambda n: n * MARKET.price_tick)
amounts = st.integers(1, 300).map(lambda n: n * MARKET.amount_step)
sides = st.sampled_from(OrderSide)
actions = st.one_of(
    st.tuples(st.just("mark"), prices),
    st.tuples(st.just("market"), sides, amounts, st.booleans()),
    st.tuples(st.just("limit"), sides, amounts, prices, st.booleans()),
    st.tuples(st.just("stop"), sides, amounts, prices),
)


@dataclass
class Replay:
    """Signed net position, its average entry and the realized P&L, rebuilt from fills."""

    net: Decimal = ZERO
    entry: Decimal = ZERO
    realized: Decimal = ZERO

    def apply(self, fill: Fill) -> None:
        signed = fill.amount if fill.side is OrderSide.BUY else -fill.amount
        if self.net == ZERO or (self.net > 0) == (signed > 0):
            self.entry = (self.entry * abs(self.net) + fill.price * fill.amount) / (
                abs(self.net) + fill.amount)
            self.net += signed
            return
        closed = min(abs(signed), abs(self.net))
        direction = 1 if self.net > 0 else -1
        self.realized += (fill.price - self.entry) * closed * MARKET.contract_size * direction
        flips = abs(signed) > abs(self.net)
        self.net += signed
        if flips:
            self.entry = fill.price
        elif self.net == ZERO:
            self.entry = ZERO


def run(exchange: PaperExchange, script: list[tuple[object, ...]],
        position_side: Side | None = None) -> None:
    for action in script:
        try:
            match action:
                case ("mark", Decimal() as price):
                    exchange.set_mark(SYMBOL, price)
                case ("market", OrderSide() as side, Decimal() as amount, bool() as reduce_only):
                    exchange.manual_order(SYMBOL, side, amount, reduce_only=reduce_only,
                                          position_side=position_side)
                case ("limit", OrderSide() as side, Decimal() as amount, Decimal() as price,
                      bool() as reduce_only):
                    exchange.manual_order(SYMBOL, side, amount, price=price,
                                          reduce_only=reduce_only, position_side=position_side)
                case ("stop", OrderSide() as side, Decimal() as amount, Decimal() as trigger):
                    exchange.place_stop(SYMBOL, side, amount, trigger,
                                        position_side=position_side)
        except OrderRejectedError:
            pass  # reduce-only with nothing to reduce, or a stop already crossed


@settings(max_examples=300, deadline=None)
@given(st.lists(actions, max_size=40))
def test_one_way_position_and_pnl_equal_a_replay_of_the_fills(
        script: list[tuple[object, ...]]) -> None:
    exchange = PaperExchange([MARKET], clock=HandClock(START), marks={SYMBOL: Decimal("100")})
    run(exchange, script)

    replay = Replay()
    for fill in exchange.fills:
        replay.apply(fill)
    signed_sum = sum((f.amount if f.side is OrderSide.BUY else -f.amount for f in exchange.fills),
                     ZERO)
    positions = exchange.positions()
    net = sum((p.size if p.side is Side.LONG else -p.size for p in positions), ZERO)

    assert len(positions) <= 1
    assert net == signed_sum == replay.net
    assert all(p.entry_price == replay.entry for p in positions)
    assert exchange.realized_pnl() == exchange.realized_pnl(SYMBOL) == replay.realized
    assert exchange.fees_paid() == sum((f.fee for f in exchange.fills), ZERO)
    for fill in exchange.fills:
        assert exchange.find_order(SYMBOL, order_id=fill.order_id) is not None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(Side), actions), max_size=40))
def test_hedge_legs_each_equal_their_own_fills(
        script: list[tuple[Side, tuple[object, ...]]]) -> None:
    exchange = PaperExchange([MARKET], mode=PositionMode.HEDGE, clock=HandClock(START),
                             marks={SYMBOL: Decimal("100")})
    for position_side, action in script:
        run(exchange, [action], position_side=position_side)

    sizes = {p.side: p.size for p in exchange.positions()}
    for side in Side:
        leg_fills = [f for f in exchange.fills if f.position_side is side]
        bought = sum((f.amount for f in leg_fills if f.side is side.entry_order_side), ZERO)
        sold = sum((f.amount for f in leg_fills if f.side is side.exit_order_side), ZERO)
        assert sizes.get(side, ZERO) == bought - sold >= ZERO
