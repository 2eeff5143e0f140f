"""Orphaned pending bot trades (pure): a pending entry with no position of its own (none at all,
or one another trade already holds) gets a verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from positionbot.tracker.core.models import Order, OrderStatus, Trade

# An entry whose create got no certain answer (a timeout, a 5xx, Binance's "execution status
# unknown") may still execute seconds later: not found by its client id, it waits this long.
UNKNOWN_OUTCOME_GRACE = timedelta(minutes=2)


class OrphanVerdict(StrEnum):
    KEEP = "keep"  # the entry order is still working and not too old
    CANCEL = "cancel"  # cancel the trade (nothing to do on the exchange)
    CANCEL_ORDER = "cancel_order"  # cancel the resting entry order on the exchange, then the trade


@dataclass(frozen=True, slots=True)
class OrphanDecision:
    verdict: OrphanVerdict
    reason: str = ""


_DEAD = {
    OrderStatus.CANCELED: "entry order cancelled on the exchange",
    OrderStatus.EXPIRED: "entry order expired on the exchange",
    OrderStatus.REJECTED: "entry order rejected by the exchange",
}


def orphan_decision(
    trade: Trade,
    entry_order: Order | None,
    now: datetime,
    pending_timeout: timedelta,
    merged_into: int | None = None,
    age: timedelta | None = None,
) -> OrphanDecision:
    """Decide the fate of a pending trade for which the exchange shows no position.

    ``entry_order`` is the entry order as the exchange reports it now, found by its id or,
    when the bot crashed before recording the id, by its client order id (None when the
    exchange does not know it). ``merged_into`` is the open trade already holding the trade's
    position, if any: a fill of this entry then grew that trade's position instead. ``age`` is
    how long the entry has waited, measured so that a wall-clock step cannot move it (the
    runner's monotonic bookkeeping); without it, ``now`` minus the trade's creation.
    """
    if age is None:
        age = now - (trade.created_at or now)
    if trade.entry_order_id is None and trade.entry_client_order_id is None:
        return OrphanDecision(OrphanVerdict.CANCEL, "no entry order")
    if entry_order is None:
        if trade.entry_order_id is None and age < UNKNOWN_OUTCOME_GRACE:
            return OrphanDecision(OrphanVerdict.KEEP)  # its create may still execute late
        return OrphanDecision(OrphanVerdict.CANCEL, "entry order not found on the exchange")
    if entry_order.status in _DEAD:
        return OrphanDecision(OrphanVerdict.CANCEL, _DEAD[entry_order.status])
    if entry_order.status is OrderStatus.CLOSED and merged_into is not None:
        return OrphanDecision(OrphanVerdict.CANCEL, "entry order filled into the position of "
                                                    f"trade #{merged_into}, which recorded it")
    if entry_order.status is OrderStatus.CLOSED:
        return OrphanDecision(
            OrphanVerdict.CANCEL, "entry order filled but the position was closed before it was seen"
        )
    if age >= pending_timeout:
        minutes = int(pending_timeout.total_seconds() // 60)
        return OrphanDecision(
            OrphanVerdict.CANCEL_ORDER, f"not filled within {minutes} min: entry order cancelled"
        )
    return OrphanDecision(OrphanVerdict.KEEP)
