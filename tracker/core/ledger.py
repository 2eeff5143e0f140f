"""Turning classified, priced changes into trade rows, events and notices (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypedDict

from positionbot.tracker.core.accounting import Book, Replay, implied_add_price, realized_pnl
from positionbot.tracker.core.classify import Change
from positionbot.tracker.core.models import (
    ZERO,
    ChangeKind,
    Position,
    PositionEvent,
    Side,
    Source,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.notices import (
    CloseReason,
    Notice,
    PositionClosed,
    PositionDecreased,
    PositionFlipped,
    PositionIncreased,
    PositionOpened,
    StopLossHit,
)


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One change as recorded, for reports: the trade after it and the event that recorded it
    (its figures are the event's, read through the properties below)."""

    kind: ChangeKind
    trade: Trade  # the trade row after the change (for FLIPPED: the new trade)
    event: PositionEvent  # FLIPPED: the old trade's closing event
    closed_trade: Trade | None = None  # FLIPPED: the trade that was closed
    reopened: PositionEvent | None = None  # FLIPPED: the new trade's opening event

    @property
    def size_before(self) -> Decimal:
        return self.event.size_before

    @property
    def size_after(self) -> Decimal:
        return (self.reopened or self.event).size_after

    @property
    def price(self) -> Decimal | None:
        return self.event.price

    @property
    def realized_pnl(self) -> Decimal:
        return self.event.realized_pnl

    @property
    def fees(self) -> Decimal:
        return self.event.fees + (self.reopened.fees if self.reopened else ZERO)

    @property
    def estimated(self) -> bool:
        return self.event.estimated


@dataclass(frozen=True, slots=True)
class PricedChange:
    change: Change
    replay: Replay | None  # None: the fills do not explain it, so it is estimated
    last_mark: Decimal | None  # for estimates when no fills are available
    pending: Trade | None = None  # OPENED: the pending bot trade this position fills
    stop_hit: bool = False  # CLOSED: the trade's stop order fired
    dust: bool = False  # CLOSED: the position shrank below the dust threshold
    chained: bool = False  # a later leg of the same fills: starts from the trade the last left


@dataclass(slots=True)
class Outcome:
    """What recording changes (here) or acting on the exchange (the engine's stop actions)
    produced: rows to write, notices to queue, and lines for the cycle report."""

    trades: list[Trade] = field(default_factory=list)
    events: list[PositionEvent] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    applied: list[AppliedChange] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # what was done, for the report
    errors: list[str] = field(default_factory=list)


def _event(trade: Trade, kind: str, before: Decimal, after: Decimal, price: Decimal | None,
           book: Book, estimated: bool, now: datetime) -> tuple[Trade, PositionEvent]:
    seq = trade.event_seq + 1
    ev = PositionEvent(trade.id, seq, kind, before, after, price, book.realized_net, book.fees,
                       estimated, now)
    return replace(trade, event_seq=seq), ev


class _Figures(TypedDict):
    account: str
    dedupe_key: str
    trade_id: int
    symbol: str
    side: Side
    source: Source
    size_before: Decimal
    size_after: Decimal
    price: Decimal | None
    estimated: bool
    avg_entry: Decimal
    realized_pnl: Decimal
    fees: Decimal
    trade_realized_pnl: Decimal
    stop_loss: Decimal | None
    notional: Decimal


class _CloseFigures(_Figures):
    reason: CloseReason
    pnl_pct: Decimal
    held: timedelta
    funding: Decimal


def _figures(t: Trade, ev: PositionEvent) -> _Figures:
    """The fields every position notice shares, from the trade and the event that changed it."""
    price = ev.price if ev.price is not None else t.avg_entry_price
    return {
        "account": t.account, "dedupe_key": f"{t.account}/trade/{t.id}/{ev.seq}",
        "trade_id": t.id, "symbol": t.symbol, "side": t.side, "source": t.source,
        "size_before": ev.size_before, "size_after": ev.size_after, "price": ev.price,
        "estimated": ev.estimated, "avg_entry": t.avg_entry_price,
        "realized_pnl": ev.realized_pnl, "fees": ev.fees, "trade_realized_pnl": t.realized_pnl,
        "stop_loss": t.stop_loss_price,
        "notional": max(ev.size_before, ev.size_after) * t.contract_size * price,
    }


def _estimate_exit(trade: Trade, qty: Decimal, mark: Decimal | None, now_position: Position | None
                   ) -> tuple[Book, Decimal]:
    exit_price = mark if mark is not None else (
        now_position.mark_price if now_position and now_position.mark_price else trade.avg_entry_price)
    gross = realized_pnl(trade.side, trade.avg_entry_price, exit_price, qty, trade.contract_size)
    return Book(reduced_qty=qty, reduced_notional=exit_price * qty, realized_gross=gross), exit_price


def _open(pc: PricedChange, p: Position, book: Book, avg: Decimal, new_id: Callable[[], int],
          now: datetime, account: str) -> Trade:
    if pc.pending is not None:
        base = replace(pc.pending, status=TradeStatus.OPEN, source=Source.BOT)
    else:
        base = Trade(new_id(), account, p.symbol, p.side, TradeStatus.OPEN, Source.EXTERNAL,
                     created_at=now)
    t = replace(base, size=p.size, avg_entry_price=avg, contract_size=p.contract_size,
                realized_pnl=book.realized_net, fees=book.fees, opened_at=now, last_synced_at=now,
                exchange_entry_price=p.entry_price)
    return t


def _close(t: Trade, book: Book, reason: CloseReason, now: datetime, stop_hit: bool) -> Trade:
    closed = replace(t, status=TradeStatus.CLOSED, size=ZERO, close_reason=reason, closed_at=now,
                     last_synced_at=now, realized_pnl=t.realized_pnl + book.realized_net,
                     fees=t.fees + book.fees)
    if stop_hit:
        closed = replace(closed, stop_loss_order_id=None, stop_loss_size=None)
    return closed


def _close_figures(before: Trade, closed: Trade, ev: PositionEvent, book: Book, now: datetime,
                   reason: CloseReason) -> _CloseFigures:
    basis = before.avg_entry_price * book.reduced_qty * before.contract_size
    pct = (book.realized_net / basis * 100) if basis else ZERO
    opened = before.opened_at or before.created_at or now
    return {**_figures(closed, ev), "reason": reason, "pnl_pct": pct.quantize(Decimal("0.01")),
            "held": timedelta(seconds=int((now - opened).total_seconds())),
            "funding": closed.funding}


def apply_changes(
    priced: list[PricedChange], account: str, new_id: Callable[[], int], now: datetime
) -> Outcome:
    """Record every change: new trade rows, one event each, and the notice that reports it."""
    out = Outcome()
    for pc in priced:
        if pc.chained and out.trades:
            pc = replace(pc, change=replace(pc.change, trade=out.trades[-1]))
        _apply_one(pc, account, new_id, now, out)
    return out


def _apply_one(pc: PricedChange, account: str, new_id: Callable[[], int], now: datetime,
               out: Outcome) -> None:
    c, rp = pc.change, pc.replay
    kind = c.kind
    if kind is ChangeKind.OPENED:
        assert c.position is not None
        p = c.position
        book = rp.new if rp else Book()
        avg = rp.final_avg if rp else p.entry_price
        t = _open(pc, p, book, avg, new_id, now, account)
        # After a round trip folded into the open, the adds' average includes the legs already
        # closed again: the price of what is open now is the replay's entry.
        price = avg if book.reduced_qty else book.add_vwap or p.entry_price
        t, ev = _event(t, kind.value, ZERO, p.size, price, book, False, now)
        out.trades.append(t)
        out.events.append(ev)
        out.notices.append(PositionOpened(**_figures(t, ev), closed=book.reduced_qty,
                                          exit_price=book.exit_vwap))
        out.applied.append(AppliedChange(kind, t, ev))
        return
    t0 = c.trade
    assert t0 is not None
    if kind in (ChangeKind.INCREASED, ChangeKind.DECREASED):
        assert c.position is not None
        p = c.position
        estimated = rp is None
        if rp is not None:
            book, avg = rp.old, rp.final_avg
        elif kind is ChangeKind.INCREASED:
            add_price = implied_add_price(t0.avg_entry_price, t0.size, p.entry_price, p.size)
            add_qty = p.size - t0.size
            book, avg, estimated = Book(add_qty, add_price * add_qty), p.entry_price, False
        else:
            book, _ = _estimate_exit(t0, t0.size - p.size, pc.last_mark, p)
            avg = t0.avg_entry_price
        at = book.add_vwap if kind is ChangeKind.INCREASED else book.exit_vwap
        t = replace(t0, size=p.size, avg_entry_price=avg, realized_pnl=t0.realized_pnl + book.realized_net,
                    fees=t0.fees + book.fees, last_synced_at=now, exchange_entry_price=p.entry_price,
                    close_requested_by_bot=False)
        t, ev = _event(t, kind.value, t0.size, p.size, at, book, estimated, now)
        out.trades.append(t)
        out.events.append(ev)
        if kind is ChangeKind.INCREASED:
            out.notices.append(PositionIncreased(**_figures(t, ev), closed=book.reduced_qty,
                                                 exit_price=book.exit_vwap))
        else:
            out.notices.append(PositionDecreased(**_figures(t, ev),
                                                 by_bot=t0.close_requested_by_bot))
        out.applied.append(AppliedChange(kind, t, ev))
        return
    # CLOSED or FLIPPED: the old trade closes.
    if rp is not None:
        book = rp.old
    else:
        book, _ = _estimate_exit(t0, t0.size, pc.last_mark, None)
    estimated = rp is None
    if kind is ChangeKind.FLIPPED:
        reason = CloseReason.FLIPPED
    elif pc.stop_hit:
        reason = CloseReason.STOP_LOSS
    elif t0.close_requested_by_bot:
        reason = CloseReason.BY_BOT
    elif pc.dust:
        reason = CloseReason.DUST
    else:
        reason = CloseReason.CLOSED
    closed = _close(t0, book, reason, now, pc.stop_hit)
    closed, ev = _event(closed, ChangeKind.CLOSED.value, t0.size, ZERO, book.exit_vwap, book,
                        estimated, now)
    out.trades.append(closed)
    out.events.append(ev)
    close_fields = _close_figures(t0, closed, ev, book, now, reason)
    if kind is ChangeKind.CLOSED:
        out.notices.append(StopLossHit(**close_fields) if pc.stop_hit
                           else PositionClosed(**close_fields))
        out.applied.append(AppliedChange(kind, closed, ev))
        return
    assert c.position is not None
    p = c.position
    new_book = rp.new if rp else Book()
    avg = rp.final_avg if rp else p.entry_price
    opened = _open(PricedChange(c, rp, pc.last_mark), p, new_book, avg, new_id, now, account)
    opened, ev2 = _event(opened, ChangeKind.OPENED.value, ZERO, p.size, new_book.add_vwap or p.entry_price,
                         new_book, False, now)
    out.trades.append(opened)
    out.events.append(ev2)
    out.notices.append(PositionFlipped(**close_fields, new_side=opened.side, new_size=opened.size,
                                       new_entry=opened.avg_entry_price, new_trade_id=opened.id,
                                       new_realized_pnl=ev2.realized_pnl, new_fees=ev2.fees))
    out.applied.append(AppliedChange(kind, opened, ev, closed_trade=closed, reopened=ev2))
