"""Choosing which fills belong to a change, and remembering which were consumed (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from positionbot.tracker.core.models import Fill, PositionMode, Side


@dataclass(frozen=True, slots=True)
class FillCursor:
    """The last consumed fill of a position key: its timestamp and every id consumed at it."""

    at: datetime
    fill_ids: tuple[str, ...]


def cursor_key(symbol: str, side: Side, mode: PositionMode) -> str:
    """Hedge-mode sides are separate books; one-way mode has one book per symbol."""
    return f"{symbol}#{side.value}" if mode is PositionMode.HEDGE else symbol


def unconsumed(fills: Iterable[Fill], cursor: FillCursor | None) -> list[Fill]:
    """Fills after the cursor, oldest first (stable on the exchange's order for equal times)."""
    out = []
    for f in fills:
        if cursor is not None and (
            f.timestamp < cursor.at or (f.timestamp == cursor.at and f.id in cursor.fill_ids)
        ):
            continue
        out.append(f)
    out.sort(key=lambda f: f.timestamp)
    return out


def for_side(fills: Iterable[Fill], side: Side, mode: PositionMode) -> list[Fill]:
    """In hedge mode only the fills of that position side; in one-way mode all of them."""
    if mode is PositionMode.ONE_WAY:
        return list(fills)
    return [f for f in fills if f.position_side is side]


def advance(cursor: FillCursor | None, consumed: Sequence[Fill]) -> FillCursor | None:
    """The cursor after consuming ``consumed`` (oldest first)."""
    if not consumed:
        return cursor
    last = consumed[-1].timestamp
    ids = tuple(f.id for f in consumed if f.timestamp == last)
    if cursor is not None and cursor.at == last:
        ids = tuple(dict.fromkeys(cursor.fill_ids + ids))
    return FillCursor(last, ids)
