"""Splitting the fills behind one change into legs (pure).

A stop that fires for part of a position while the trader adds by hand between two snapshots
can leave the size where it was, or move it the other way. Booked as one change, the stop's
fill would be lost (no change is seen) or pushed inside an increase. Split at each turn, every
run of fills in one direction is booked and pushed as what it was: an increase, a decrease
with its own realized P&L, a close to flat, an open from flat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from positionbot.tracker.core.accounting import Replay, replay_fills
from positionbot.tracker.core.models import ZERO, ChangeKind, Fill, OrderSide, Side


@dataclass(frozen=True, slots=True)
class Leg:
    kind: ChangeKind  # INCREASED, DECREASED, CLOSED (to flat) or OPENED (from flat)
    side: Side | None  # the position's side after the leg; None when flat
    size: Decimal  # the position's size after the leg
    replay: Replay
    fills: tuple[Fill, ...]


def _signed(side: Side | None, size: Decimal) -> Decimal:
    return -size if side is Side.SHORT else size


def _side_of(pos: Decimal) -> Side | None:
    return None if pos == 0 else (Side.LONG if pos > 0 else Side.SHORT)


def split_legs(side: Side, size: Decimal, avg: Decimal, fills: Sequence[Fill],
               contract_size: Decimal) -> list[Leg] | None:
    """The legs of ``fills`` (oldest first) replayed from a trade's state, each from where the
    one before left it. None when a single fill turns the position through zero: such a flip
    is left to the ordinary change, which books it whole."""
    runs: list[list[Fill]] = []
    pos = _signed(side, size)
    growing: bool | None = None
    for f in fills:
        delta = f.amount if f.side is OrderSide.BUY else -f.amount
        grows = pos == 0 or (pos > 0) == (delta > 0)
        after = pos + delta
        if pos != 0 and after != 0 and (pos > 0) != (after > 0):
            return None
        if not runs or grows is not growing or pos == 0:
            runs.append([])
        runs[-1].append(f)
        growing, pos = grows, after
    legs: list[Leg] = []
    at_side: Side | None = side
    at_size, at_avg = size, avg
    for run in runs:
        end = _signed(at_side, at_size) + sum(
            (f.amount if f.side is OrderSide.BUY else -f.amount for f in run), ZERO)
        replay = replay_fills(at_side, at_size, at_avg, run, _side_of(end), abs(end),
                              contract_size)
        assert replay is not None and replay.consumed == len(run)  # a run ends where it goes
        if end == 0:
            kind = ChangeKind.CLOSED
        elif at_side is None:
            kind = ChangeKind.OPENED
        else:
            kind = ChangeKind.INCREASED if abs(end) > at_size else ChangeKind.DECREASED
        legs.append(Leg(kind, replay.final_side, replay.final_size, replay, tuple(run)))
        at_side, at_size, at_avg = replay.final_side, replay.final_size, replay.final_avg
    return legs
