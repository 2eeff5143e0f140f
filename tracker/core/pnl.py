"""P&L reports: periods in the trader's time zone and exact sums over recorded events (pure).

Every event carries the P&L it realized, net of the fees it paid; funding events carry the
payment. A period's net P&L is the sum over the events dated inside it, the way the exchange's
income ledger sums realized P&L, commissions and funding by time. Win rate, averages, best and
worst are per trade, over the trades closed inside the period (their whole net P&L).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from positionbot.tracker.core.funding import FUNDING
from positionbot.tracker.core.models import ZERO

Unit = Literal["day", "week", "month"]

MAX_DAYS = 3660
_DAYS = re.compile(r"([1-9][0-9]{0,3})d")
PERIOD_WORDS = ("today", "week", "month", "all")


class PeriodError(ValueError):
    """A period the reports do not understand; the message says what would be."""


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in UTC; ``start`` None means since the beginning."""

    label: str
    start: datetime | None
    end: datetime


@dataclass(frozen=True, slots=True)
class PnlEvent:
    """One recorded event with the trade it belongs to, as reports need it."""

    trade_id: int
    account: str
    symbol: str
    kind: str
    at: datetime
    realized_pnl: Decimal  # net of ``fees``; for funding, the payment
    fees: Decimal


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    trade_id: int
    account: str
    symbol: str
    closed_at: datetime
    net: Decimal  # the trade's whole net realized P&L


@dataclass(frozen=True, slots=True)
class SymbolRow:
    symbol: str
    net: Decimal
    closes: int


@dataclass(frozen=True, slots=True)
class Summary:
    net: Decimal
    price: Decimal  # P&L of the price moves, before fees
    fees: Decimal  # paid, positive
    funding: Decimal  # received minus paid
    closes: int
    wins: int
    losses: int
    avg_win: Decimal | None
    avg_loss: Decimal | None
    best: ClosedTrade | None
    worst: ClosedTrade | None
    symbols: tuple[SymbolRow, ...]

    @property
    def win_rate(self) -> Decimal | None:
        """Share of closed trades with a positive net, in percent (two places)."""
        if not self.closes:
            return None
        return (Decimal(self.wins) * 100 / self.closes).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class PeriodRow:
    period: Period
    net: Decimal
    closes: int


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a local day starts (DST-safe: built from the local wall clock)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _unit_start(day: date, unit: Unit) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _next_start(start: date, unit: Unit) -> date:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _label(start: date, unit: Unit) -> str:
    if unit == "week":
        return f"week of {start.isoformat()}"
    if unit == "month":
        return start.strftime("%Y-%m")
    return start.isoformat()


def periods(unit: Unit, count: int, now: datetime, tz: ZoneInfo) -> list[Period]:
    """The last ``count`` local days, weeks (from Monday) or months, newest first, each a whole
    one (the current one ends at its end, not now)."""
    start = _unit_start(now.astimezone(tz).date(), unit)
    out = []
    for _ in range(count):
        end = local_midnight(_next_start(start, unit), tz)
        out.append(Period(_label(start, unit), local_midnight(start, tz), end))
        start = _unit_start(start - timedelta(days=1), unit)
    return out


def parse_period(spec: str, now: datetime, tz: ZoneInfo) -> Period:
    """``today``, ``week`` (since Monday), ``month``, ``all`` or ``<N>d`` (today and the N-1 days
    before), in the trader's time zone, up to the end of today."""
    word = spec.strip().lower()
    today = now.astimezone(tz).date()
    end = local_midnight(today + timedelta(days=1), tz)  # whatever happened up to now
    if word == "all":
        return Period("all time", None, end)
    if word == "today":
        return Period(f"today ({today.isoformat()})", local_midnight(today, tz), end)
    if word in ("week", "month"):
        unit: Unit = "week" if word == "week" else "month"
        start = _unit_start(today, unit)
        return Period(f"this {word} (since {start.isoformat()})", local_midnight(start, tz), end)
    m = _DAYS.fullmatch(word)
    if m is not None and int(m.group(1)) <= MAX_DAYS:
        days = int(m.group(1))
        start = today - timedelta(days=days - 1)
        return Period(f"last {days}d (since {start.isoformat()})", local_midnight(start, tz), end)
    raise PeriodError(f"unknown period {spec!r}: use today, week, month, all or <N>d "
                      f"(1–{MAX_DAYS} days, e.g. 7d)")


def inside(at: datetime, period: Period) -> bool:
    return (period.start is None or at >= period.start) and at < period.end


def summarize(events: Iterable[PnlEvent], closed: Iterable[ClosedTrade]) -> Summary:
    """Net P&L and its parts from the events; the per-trade figures from the closed trades."""
    price = fees = funding = ZERO
    by_symbol: dict[str, Decimal] = {}
    for e in events:
        if e.kind == FUNDING:
            funding += e.realized_pnl
        else:
            price += e.realized_pnl + e.fees
            fees += e.fees
        by_symbol[e.symbol] = by_symbol.get(e.symbol, ZERO) + e.realized_pnl
    trades = list(closed)
    closes_by_symbol: dict[str, int] = {}
    for t in trades:
        closes_by_symbol[t.symbol] = closes_by_symbol.get(t.symbol, 0) + 1
        by_symbol.setdefault(t.symbol, ZERO)
    wins = [t.net for t in trades if t.net > ZERO]
    losses = [t.net for t in trades if t.net < ZERO]
    rows = sorted((SymbolRow(s, n, closes_by_symbol.get(s, 0)) for s, n in by_symbol.items()),
                  key=lambda r: (-r.net, r.symbol))
    return Summary(
        net=price - fees + funding, price=price, fees=fees, funding=funding, closes=len(trades),
        wins=len(wins), losses=len(losses),
        avg_win=sum(wins, ZERO) / len(wins) if wins else None,
        avg_loss=sum(losses, ZERO) / len(losses) if losses else None,
        best=max(trades, key=lambda t: t.net, default=None),
        worst=min(trades, key=lambda t: t.net, default=None),
        symbols=tuple(rows),
    )


def period_rows(buckets: Sequence[Period], events: Iterable[PnlEvent],
                closed: Iterable[ClosedTrade]) -> list[PeriodRow]:
    """Net P&L and closes of each period (the buckets must not overlap)."""
    nets = [ZERO] * len(buckets)
    closes = [0] * len(buckets)
    for e in events:
        i = _bucket_of(e.at, buckets)
        if i is not None:
            nets[i] += e.realized_pnl
    for t in closed:
        i = _bucket_of(t.closed_at, buckets)
        if i is not None:
            closes[i] += 1
    return [PeriodRow(p, n, c) for p, n, c in zip(buckets, nets, closes, strict=True)]


def _bucket_of(at: datetime, buckets: Sequence[Period]) -> int | None:
    for i, p in enumerate(buckets):
        if inside(at, p):
            return i
    return None


def daily_series(period: Period, events: Sequence[PnlEvent], tz: ZoneInfo
                 ) -> list[tuple[date, Decimal, Decimal]]:
    """``(local day, day's net, cumulative net)`` for every day from the period's first event
    (or its start) to its end, oldest first: what the chart draws."""
    days: dict[date, Decimal] = {}
    for e in events:
        if inside(e.at, period):
            d = e.at.astimezone(tz).date()
            days[d] = days.get(d, ZERO) + e.realized_pnl
    last = (period.end - timedelta(microseconds=1)).astimezone(tz).date()
    first = period.start.astimezone(tz).date() if period.start is not None else min(days, default=last)
    out = []
    total = ZERO
    day = first
    while day <= last:
        net = days.get(day, ZERO)
        total += net
        out.append((day, net, total))
        day += timedelta(days=1)
    return out
