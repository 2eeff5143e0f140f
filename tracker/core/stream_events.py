"""What a user-data stream reports, and the rules that make its events idempotent (pure).

A stream event is an explicit report: a position leg stated with its size (zero included), a
fill, or an order's new state. Duplicates and late arrivals are dropped by order id + state,
trade id and event time; the memory of what was seen is bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from positionbot.tracker.core.classify import PositionKey
from positionbot.tracker.core.models import ZERO, Fill, Order, Position, PositionMode, Side

MAX_REMEMBERED = 2_000
"""Ids remembered for de-duplication; older ones are forgotten (a replay that old is refused by
the fill cursors anyway)."""


@dataclass(frozen=True, slots=True)
class PositionReport:
    """One position leg as the stream states it.

    ``leg`` is the hedge-mode side (None for a one-way position, whose side is the sign of
    ``amount``); ``amount`` is signed in one-way mode and the leg's size in hedge mode."""

    symbol: str
    leg: Side | None
    amount: Decimal
    entry_price: Decimal
    at: datetime  # the exchange's event time
    mark_price: Decimal | None = None  # stated (Bybit, OKX) or implied (Binance's up, ep, pa)

    @property
    def size(self) -> Decimal:
        return abs(self.amount)

    @property
    def side(self) -> Side | None:
        """The side held, or None when flat."""
        if self.leg is not None:
            return self.leg if self.amount != ZERO else None
        if self.amount == ZERO:
            return None
        return Side.LONG if self.amount > ZERO else Side.SHORT

    def key(self, mode: PositionMode) -> PositionKey | None:
        """The position key this report states; None for a report that says nothing in this mode
        (hedge mode's zero ``BOTH`` entry, a one-way report of a hedge leg)."""
        if mode is PositionMode.HEDGE:
            return (self.symbol, self.leg) if self.leg is not None else None
        return (self.symbol, None) if self.leg is None else None

    def position(self, contract_size: Decimal) -> Position | None:
        side = self.side
        if side is None:
            return None
        return Position(self.symbol, side, self.size, self.entry_price,
                        mark_price=self.mark_price, contract_size=contract_size)


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """Events received together (one burst), in arrival order within each kind."""

    positions: tuple[PositionReport, ...] = ()
    fills: tuple[Fill, ...] = ()
    orders: tuple[Order, ...] = ()
    gap: str | None = None  # something arrived that could not be read: verify by REST

    @property
    def is_empty(self) -> bool:
        return not (self.positions or self.fills or self.orders or self.gap)

    def plus(self, other: StreamBatch) -> StreamBatch:
        return StreamBatch(self.positions + other.positions, self.fills + other.fills,
                           self.orders + other.orders, self.gap or other.gap)


def _remember(seen: OrderedDict[object, None], key: object) -> bool:
    """Record ``key``; False when it was already there."""
    if key in seen:
        return False
    seen[key] = None
    if len(seen) > MAX_REMEMBERED:
        seen.popitem(last=False)
    return True


@dataclass(slots=True)
class Deduper:
    """Drops events already seen: fills by trade id, order states by (id, status, filled), and
    position reports not newer than the last one applied for the same leg."""

    _fills: OrderedDict[object, None] = field(default_factory=OrderedDict)
    _orders: OrderedDict[object, None] = field(default_factory=OrderedDict)
    _positions: OrderedDict[tuple[str, Side | None], datetime] = field(default_factory=OrderedDict)

    def fresh(self, batch: StreamBatch, not_before: datetime | None) -> StreamBatch:
        """The part of ``batch`` not seen before. Position reports older than ``not_before``
        (the start of the last REST cycle, which already reflects them) are stale."""
        return self.split(batch, not_before)[0]

    def split(self, batch: StreamBatch, not_before: datetime | None,
              ) -> tuple[StreamBatch, tuple[PositionReport, ...]]:
        """``fresh``, and the position reports dropped only for being dated before
        ``not_before``: the exchange dates them on its own clock, so one of them may be a fresh
        change our clock misjudges (see ``contradicts``)."""
        stale: list[PositionReport] = []
        fills = tuple(f for f in batch.fills if _remember(self._fills, (f.symbol, f.id)))
        orders = tuple(o for o in batch.orders
                       if _remember(self._orders, (o.id, o.status, o.filled, o.is_stop)))
        positions: list[PositionReport] = []
        for report in batch.positions:
            leg = (report.symbol, report.leg)
            last = self._positions.get(leg)
            if last is not None and report.at < last:
                continue
            if not_before is not None and report.at < not_before:
                stale.append(report)
                continue
            self._positions[leg] = report.at
            self._positions.move_to_end(leg)
            while len(self._positions) > MAX_REMEMBERED:
                self._positions.popitem(last=False)
            positions.append(report)
        return StreamBatch(tuple(positions), fills, orders, batch.gap), tuple(stale)


def contradicts(reports: Iterable[PositionReport], mode: PositionMode,
                held: Mapping[PositionKey, Position]) -> bool:
    """Whether a stale report states something other than what is held now. Such a report is
    either truly older than the REST snapshot or a fresh change dated on an exchange clock that
    runs behind ours; only REST can tell, so the caller verifies rather than guesses."""
    for report in reports:
        key = report.key(mode)
        if key is None:
            continue
        now = held.get(key)
        if (report.side, report.size) != ((now.side, now.size) if now else (None, ZERO)):
            return True
    return False


def stated_positions(reports: Iterable[PositionReport], mode: PositionMode,
                     contract_sizes: Mapping[str, Decimal]) -> dict[PositionKey, Position | None]:
    """The last stated position per key (None: stated flat). Reports that say nothing in this
    mode are left out, so they can never close anything."""
    stated: dict[PositionKey, Position | None] = {}
    for report in reports:
        key = report.key(mode)
        if key is None:
            continue
        stated[key] = report.position(contract_sizes.get(report.symbol, Decimal(1)))
    return stated
