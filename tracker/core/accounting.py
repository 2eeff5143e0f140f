"""Decimal accounting: weighted entries, realized P&L and fees, from fills (pure).

A change between two snapshots is priced by replaying the account's fills on that position
from the trade's recorded state. The replay consumes the longest run of fills that ends at
exactly the size the exchange now reports, so fills that arrived after the snapshot are left
for the next cycle and a round trip between two snapshots is still counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from positionbot.tracker.core.models import ZERO, Fill, OrderSide, Side

FEE_SPLIT_QUANTUM = Decimal("1e-18")
"""A fee split across a flip is rounded here so its two parts add up exactly to the fee."""


def tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (10.50 → 10.5, 10.0 → 10)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def weighted_average(old_avg: Decimal, old_qty: Decimal, add_price: Decimal, add_qty: Decimal) -> Decimal:
    """``(old_avg*old_qty + add_price*add_qty) / new_qty`` — never an overwrite."""
    new_qty = old_qty + add_qty
    if new_qty == 0:
        return ZERO
    return (old_avg * old_qty + add_price * add_qty) / new_qty


def realized_pnl(
    side: Side, avg_entry: Decimal, exit_price: Decimal, qty: Decimal, contract_size: Decimal
) -> Decimal:
    """Gross P&L of closing ``qty`` contracts (fees are subtracted by the caller)."""
    diff = exit_price - avg_entry if side is Side.LONG else avg_entry - exit_price
    return diff * qty * contract_size


def implied_add_price(
    old_avg: Decimal, old_qty: Decimal, new_avg: Decimal, new_qty: Decimal
) -> Decimal:
    """The price an increase must have had for the exchange's new average to hold."""
    add_qty = new_qty - old_qty
    return (new_avg * new_qty - old_avg * old_qty) / add_qty


@dataclass(frozen=True, slots=True)
class Book:
    """Fill legs attributed to one trade: what was added, what was reduced, at what cost."""

    added_qty: Decimal = ZERO
    added_notional: Decimal = ZERO  # sum of price * qty
    reduced_qty: Decimal = ZERO
    reduced_notional: Decimal = ZERO
    realized_gross: Decimal = ZERO
    fees: Decimal = ZERO

    @property
    def add_vwap(self) -> Decimal | None:
        return self.added_notional / self.added_qty if self.added_qty else None

    @property
    def exit_vwap(self) -> Decimal | None:
        return self.reduced_notional / self.reduced_qty if self.reduced_qty else None

    @property
    def realized_net(self) -> Decimal:
        return self.realized_gross - self.fees

    def plus(self, other: Book) -> Book:
        return Book(
            self.added_qty + other.added_qty,
            self.added_notional + other.added_notional,
            self.reduced_qty + other.reduced_qty,
            self.reduced_notional + other.reduced_notional,
            self.realized_gross + other.realized_gross,
            self.fees + other.fees,
        )


@dataclass(frozen=True, slots=True)
class Replay:
    """Outcome of replaying fills from a trade's state to the exchange's current size."""

    consumed: int  # how many of the given fills the change accounts for
    old: Book  # legs belonging to the trade that existed before the change
    new: Book  # legs of a position opened after the last pass through zero (flip or open)
    final_side: Side | None
    final_size: Decimal
    final_avg: Decimal


def _signed(side: Side | None, size: Decimal) -> Decimal:
    return -size if side is Side.SHORT else size


def replay_fills(
    start_side: Side | None,
    start_size: Decimal,
    start_avg: Decimal,
    fills: Sequence[Fill],
    target_side: Side | None,
    target_size: Decimal,
    contract_size: Decimal,
) -> Replay | None:
    """Replay ``fills`` (oldest first, already filtered to this position) from the start state.

    Returns None when no prefix of the fills reaches the target size: the fills do not
    explain the change (not yet visible, or missing) and the caller must estimate.
    """
    target = _signed(target_side, target_size)
    pos = _signed(start_side, start_size)
    avg = start_avg
    books: list[Book] = [Book()]
    best: Replay | None = None
    if pos == target:
        best = Replay(0, Book(), Book(), target_side, target_size, avg)
    for i, f in enumerate(fills):
        delta = f.amount if f.side is OrderSide.BUY else -f.amount
        book = books[-1]
        if pos == 0 or (pos > 0) == (delta > 0):
            avg = weighted_average(avg, abs(pos), f.price, f.amount)
            pos += delta
            books[-1] = book.plus(Book(f.amount, f.price * f.amount, fees=f.fee))
        else:
            closing = min(abs(pos), f.amount)
            opening = f.amount - closing
            side = Side.LONG if pos > 0 else Side.SHORT
            close_fee = tidy((f.fee * closing / f.amount).quantize(FEE_SPLIT_QUANTUM))
            books[-1] = book.plus(
                Book(
                    reduced_qty=closing,
                    reduced_notional=f.price * closing,
                    realized_gross=realized_pnl(side, avg, f.price, closing, contract_size),
                    fees=close_fee,
                )
            )
            pos += delta
            if pos == 0:
                avg = ZERO
                books.append(Book())
            elif opening > 0:
                avg = f.price
                books.append(Book(opening, f.price * opening, fees=f.fee - close_fee))
        if pos == target:
            best = _summarise(i + 1, books, start_side, pos, avg)
    return best


def _summarise(
    consumed: int, books: list[Book], start_side: Side | None, pos: Decimal, avg: Decimal
) -> Replay:
    final_side = None if pos == 0 else (Side.LONG if pos > 0 else Side.SHORT)
    flipped_or_opened = final_side is not None and final_side is not start_side
    old = Book()
    for b in books[:-1] if flipped_or_opened else books:
        old = old.plus(b)
    new = books[-1] if flipped_or_opened else Book()
    if flipped_or_opened and start_side is None:
        # Opened from flat: every leg, round trips included, belongs to the new trade.
        old, new = Book(), old.plus(new)
    return Replay(consumed, old, new, final_side, abs(pos), avg)

