"""Classification: compare the exchange's positions with the open trades (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from positionbot.tracker.core.models import ChangeKind, Position, PositionMode, Side, Trade

PositionKey = tuple[str, Side | None]
"""``(symbol, side)`` in hedge mode, ``(symbol, None)`` in one-way mode."""

DEFAULT_STEP = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    key: PositionKey
    trade: Trade | None  # the open trade before the change; None when OPENED
    position: Position | None  # the exchange's position now; None when CLOSED


def key_of(symbol: str, side: Side, mode: PositionMode) -> PositionKey:
    return (symbol, side if mode is PositionMode.HEDGE else None)


def positions_by_key(positions: Iterable[Position], mode: PositionMode) -> dict[PositionKey, Position]:
    return {key_of(p.symbol, p.side, mode): p for p in positions}


def classify(
    positions: Iterable[Position],
    open_trades: Iterable[Trade],
    mode: PositionMode,
    amount_steps: Mapping[str, Decimal],
) -> list[Change]:
    """Every difference between the exchange and the open trades, in key order."""
    return classify_keyed(positions_by_key(positions, mode), open_trades, mode, amount_steps)


def classify_keyed(
    by_key: Mapping[PositionKey, Position],
    open_trades: Iterable[Trade],
    mode: PositionMode,
    amount_steps: Mapping[str, Decimal],
) -> list[Change]:
    """``classify`` over positions already keyed (the cycle keys each snapshot once).

    A size difference smaller than the market's amount step is noise, not a change.
    In one-way mode a position whose side differs from its trade's is a FLIPPED change.
    Trades sharing a key (possible only after a hedge→one-way switch) beyond the first are CLOSED.
    """
    trades_by_key: dict[PositionKey, Trade] = {}
    changes: list[Change] = []
    for t in sorted(open_trades, key=lambda t: t.id):
        k = key_of(t.symbol, t.side, mode)
        if k in trades_by_key:
            changes.append(Change(ChangeKind.CLOSED, k, t, None))
        else:
            trades_by_key[k] = t

    for k, t in trades_by_key.items():
        now = by_key.get(k)
        if now is None:
            changes.append(Change(ChangeKind.CLOSED, k, t, None))
        elif now.side is not t.side:
            changes.append(Change(ChangeKind.FLIPPED, k, t, now))
        elif now.size != t.size:
            step = amount_steps.get(t.symbol, DEFAULT_STEP)
            diff = now.size - t.size
            if diff >= step:
                changes.append(Change(ChangeKind.INCREASED, k, t, now))
            elif -diff >= step:
                changes.append(Change(ChangeKind.DECREASED, k, t, now))

    for k in by_key.keys() - trades_by_key.keys():
        changes.append(Change(ChangeKind.OPENED, k, None, by_key[k]))

    changes.sort(key=lambda c: (c.key[0], c.key[1] or "", c.kind))
    return changes


def confirmed(first: Iterable[Change], second: Iterable[Change]) -> list[Change]:
    """Changes of the second snapshot that the first one showed too (same key, same kind)."""
    seen = {(c.key, c.kind) for c in first}
    return [c for c in second if (c.key, c.kind) in seen]


def needs_verification(changes: Iterable[Change], positions_before: int, positions_now: int) -> bool:
    """Closes and flips, or positions vanishing wholesale, must be confirmed by a second fetch."""
    if positions_before > 0 and positions_now == 0:
        return True
    return any(c.kind in (ChangeKind.CLOSED, ChangeKind.FLIPPED) for c in changes)
