"""Position accounting of the paper exchange, the way Binance USDⓈ-M books fills.

One-way mode keeps one net leg per symbol, so a fill larger than the position closes it and
opens the rest on the other side at the fill price. Hedge mode keeps a long and a short leg per
symbol; a fill either adds to its leg or reduces it, never flips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from positionbot.tracker.core.models import ZERO, OrderSide, Position, PositionMode, Side


@dataclass(slots=True)
class Leg:
    """One side of one symbol: size in contracts (> 0) and its weighted average entry."""

    size: Decimal
    entry: Decimal


def pnl_at(side: Side, entry: Decimal, exit_price: Decimal, qty: Decimal,
           contract_size: Decimal) -> Decimal:
    """Gross P&L of closing ``qty`` contracts of a ``side`` leg entered at ``entry``."""
    move = exit_price - entry if side is Side.LONG else entry - exit_price
    return move * qty * contract_size


def leg_view(symbol: str, side: Side, leg: Leg, contract_size: Decimal, mark: Decimal | None,
             leverage: Decimal | None) -> Position:
    """A leg as the exchange reports it: the ``Position`` a positions fetch returns."""
    unrealized = None if mark is None else pnl_at(side, leg.entry, mark, leg.size, contract_size)
    return Position(symbol=symbol, side=side, size=leg.size, entry_price=leg.entry,
                    mark_price=mark, unrealized_pnl=unrealized, contract_size=contract_size,
                    leverage=leverage)


def side_reduced_by(order_side: OrderSide) -> Side:
    """The leg an order on ``order_side`` reduces: a sell reduces a long, a buy a short."""
    return Side.LONG if order_side is OrderSide.SELL else Side.SHORT


class PositionLedger:
    """Legs keyed by ``(symbol, side)``; only non-zero legs are stored."""

    def __init__(self, mode: PositionMode) -> None:
        self.mode = mode
        self._legs: dict[tuple[str, Side], Leg] = {}

    def leg(self, symbol: str, side: Side) -> Leg | None:
        return self._legs.get((symbol, side))

    def reducible(self, symbol: str, order_side: OrderSide, position_side: Side | None) -> Decimal:
        """How much an order could close without opening or increasing anything."""
        side = side_reduced_by(order_side)
        if self.mode is PositionMode.HEDGE and position_side is not side:
            return ZERO
        leg = self._legs.get((symbol, side))
        return leg.size if leg is not None else ZERO

    def apply(self, symbol: str, order_side: OrderSide, amount: Decimal, price: Decimal,
              contract_size: Decimal, position_side: Side | None) -> Decimal:
        """Book one fill; returns the gross P&L it realized."""
        if self.mode is PositionMode.HEDGE:
            if position_side is None:
                raise ValueError("hedge mode fills need a position side")
            if order_side is position_side.entry_order_side:
                self._increase(symbol, position_side, amount, price)
                return ZERO
            return self._reduce(symbol, position_side, amount, price, contract_size)
        opening = Side.LONG if order_side is OrderSide.BUY else Side.SHORT
        pnl = ZERO
        opposite = self._legs.get((symbol, opening.opposite))
        if opposite is not None:
            closed = min(amount, opposite.size)
            pnl = self._reduce(symbol, opening.opposite, closed, price, contract_size)
            amount -= closed
        if amount > ZERO:
            self._increase(symbol, opening, amount, price)
        return pnl

    def set(self, symbol: str, side: Side, size: Decimal, entry: Decimal) -> None:
        """Replace a leg outright (zero removes it); one-way mode drops the other side."""
        if self.mode is PositionMode.ONE_WAY:
            self._legs.pop((symbol, side.opposite), None)
        if size == ZERO:
            self._legs.pop((symbol, side), None)
        else:
            self._legs[(symbol, side)] = Leg(size, entry)

    def _increase(self, symbol: str, side: Side, amount: Decimal, price: Decimal) -> None:
        leg = self._legs.get((symbol, side))
        if leg is None:
            self._legs[(symbol, side)] = Leg(amount, price)
            return
        new_size = leg.size + amount
        leg.entry = (leg.entry * leg.size + price * amount) / new_size
        leg.size = new_size

    def _reduce(self, symbol: str, side: Side, amount: Decimal, price: Decimal,
                contract_size: Decimal) -> Decimal:
        leg = self._legs.get((symbol, side))
        if leg is None or amount > leg.size:
            raise ValueError(f"cannot reduce {symbol} {side} by {amount}: position too small")
        pnl = pnl_at(side, leg.entry, price, amount, contract_size)
        leg.size -= amount
        if leg.size == ZERO:
            del self._legs[(symbol, side)]
        return pnl
