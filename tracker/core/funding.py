"""Funding payments booked on the trade they belong to, as events of their own (pure).

A perpetual swap pays or charges funding every few hours while a position is open. The
exchange's ledger counts it in the account's P&L, so a trade's net realized P&L must count it
too, or the two never agree. Each payment becomes one ``funding`` event of the trade that was
open on its symbol when it was paid; the exchange's income id travels in the event's note and
in a cursor, so booking the same payment twice is impossible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from positionbot.tracker.core.fills import FillCursor
from positionbot.tracker.core.models import ZERO, PositionEvent, Side, Trade

FUNDING = "funding"
"""The event kind of a funding payment (its ``realized_pnl`` is the amount, fees are zero)."""

NOTE_PREFIX = "funding:"
"""An event's note is this prefix plus the exchange's income id."""

FUNDING_CURSOR_KEY = "~funding"
"""Key of the account's funding cursor among its fill cursors (no symbol starts with ``~``)."""


@dataclass(frozen=True, slots=True)
class FundingSettings:
    interval: timedelta = timedelta(minutes=15)  # at most one income request per account
    lookback: timedelta = timedelta(days=7)  # the oldest payment ever asked for
    grace: timedelta = timedelta(minutes=10)  # how far a trade's dates may lag the exchange


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding payment from the exchange's income history."""

    id: str  # the exchange's income id (Binance: tranId)
    symbol: str
    amount: Decimal  # settle currency; positive = received, negative = paid
    at: datetime
    position_side: Side | None = None


@dataclass(slots=True)
class FundingBooking:
    trades: list[Trade] = field(default_factory=list)
    events: list[PositionEvent] = field(default_factory=list)
    unmatched: list[FundingPayment] = field(default_factory=list)
    cursor: FillCursor | None = None


def unbooked(payments: Iterable[FundingPayment], cursor: FillCursor | None) -> list[FundingPayment]:
    """Payments after the cursor, oldest first, each id once."""
    seen: set[str] = set()
    out = []
    for p in sorted(payments, key=lambda p: p.at):
        if p.id in seen or (cursor is not None and (
                p.at < cursor.at or (p.at == cursor.at and p.id in cursor.fill_ids))):
            continue
        seen.add(p.id)
        out.append(p)
    return out


def owner(payment: FundingPayment, trades: Sequence[Trade], grace: timedelta) -> Trade | None:
    """The trade open on the payment's symbol (and side, when the exchange says) at its time.

    Trades are dated when the tracker saw them, up to a cycle after the exchange; ``grace``
    widens each trade's life by that much, and the nearest trade wins.
    """
    best: tuple[timedelta, int, Trade] | None = None
    for t in trades:
        if t.symbol != payment.symbol or t.opened_at is None:
            continue
        if payment.position_side is not None and t.side is not payment.position_side:
            continue
        if payment.at < t.opened_at:
            distance = t.opened_at - payment.at
        elif t.closed_at is not None and payment.at > t.closed_at:
            distance = payment.at - t.closed_at
        else:
            distance = timedelta(0)
        if distance > grace:
            continue
        if best is None or (distance, -t.id) < (best[0], best[1]):
            best = (distance, -t.id, t)
    return best[2] if best is not None else None


def book_funding(payments: Iterable[FundingPayment], trades: Iterable[Trade],
                 cursor: FillCursor | None, grace: timedelta) -> FundingBooking:
    """One event per new payment on its trade, the trades' P&L updated, the cursor advanced.

    A payment no trade owns (a position the tracker never saw) is returned as unmatched and
    consumed all the same, so it is not fetched again.
    """
    current = {t.id: t for t in trades}
    out = FundingBooking(cursor=cursor)
    fresh = unbooked(payments, cursor)
    for p in fresh:
        t = owner(p, list(current.values()), grace)
        if t is None:
            out.unmatched.append(p)
            continue
        seq = t.event_seq + 1
        out.events.append(PositionEvent(t.id, seq, FUNDING, t.size, t.size, None, p.amount, ZERO,
                                        False, p.at, NOTE_PREFIX + p.id))
        current[t.id] = replace(t, event_seq=seq, realized_pnl=t.realized_pnl + p.amount,
                              funding=t.funding + p.amount)
    changed = {e.trade_id for e in out.events}
    out.trades = [current[i] for i in current if i in changed]
    if fresh:
        last = fresh[-1].at
        ids = tuple(p.id for p in fresh if p.at == last)
        if cursor is not None and cursor.at == last:
            ids = tuple(dict.fromkeys(cursor.fill_ids + ids))
        out.cursor = FillCursor(last, ids)
    return out
