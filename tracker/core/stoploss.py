"""Stop-loss decisions (pure): what to place, resize, cancel or report, given the state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from enum import StrEnum

from positionbot.tracker.core.models import Order, OrderStatus, Side, Trade


class StopActionKind(StrEnum):
    PLACE = "place"  # a pending stop loss on an open trade
    REPLACE = "replace"  # the live stop covers a different size than the position
    CANCEL = "cancel"  # the trade closed; its stop order is still resting
    CLEAR = "clear"  # the trade closed with a pending (never placed) stop loss
    REMOVED = "removed"  # the live stop vanished while the position remains: removed by hand
    CROSSED = "crossed"  # the pending price is already through the mark: not placed, warn once


@dataclass(frozen=True, slots=True)
class StopAction:
    kind: StopActionKind
    trade: Trade


def is_crossed(side: Side, stop_price: Decimal, mark: Decimal) -> bool:
    """A long's stop must sit below the mark, a short's above; otherwise it would fire at once."""
    return stop_price >= mark if side is Side.LONG else stop_price <= mark


def round_stop_price(side: Side, price: Decimal, tick: Decimal) -> Decimal:
    """Round to the tick away from the mark, so rounding never moves a stop closer to triggering."""
    rounding = ROUND_DOWN if side is Side.LONG else ROUND_UP
    return (price / tick).to_integral_value(rounding=rounding) * tick


def percent_stop_price(side: Side, reference: Decimal, percent: Decimal) -> Decimal:
    """A stop ``percent`` away from ``reference`` on the losing side (2 → 2% below for a long)."""
    distance = reference * abs(percent) / Decimal(100)
    return reference - distance if side is Side.LONG else reference + distance


def stop_loss_actions(
    open_trades: Iterable[Trade],
    closed_trades: Iterable[Trade],
    open_stops: Mapping[str, Order],
    marks: Mapping[int, Decimal],
) -> list[StopAction]:
    """Decide every stop-loss action for this cycle.

    ``open_stops`` are the account's resting stop orders by id, from this cycle's fetch;
    ``marks`` holds the current mark price by trade id (absent when unknown).
    """
    actions: list[StopAction] = []
    for t in closed_trades:
        if t.stop_loss_order_id is not None and t.stop_loss_order_id in open_stops:
            actions.append(StopAction(StopActionKind.CANCEL, t))
        elif t.stop_loss_price is not None and t.stop_loss_order_id is None:
            actions.append(StopAction(StopActionKind.CLEAR, t))
    for t in open_trades:
        if t.stop_loss_price is None:
            continue
        if t.stop_loss_order_id is not None:
            if t.stop_loss_order_id not in open_stops:
                actions.append(StopAction(StopActionKind.REMOVED, t))
            elif t.stop_loss_size != t.size:
                actions.append(StopAction(StopActionKind.REPLACE, t))
            continue
        mark = marks.get(t.id)
        if mark is not None and is_crossed(t.side, t.stop_loss_price, mark):
            actions.append(StopAction(StopActionKind.CROSSED, t))
        else:
            actions.append(StopAction(StopActionKind.PLACE, t))
    return actions


def closed_by_stop(trade: Trade, open_stops: Mapping[str, Order]) -> bool:
    """A trade that closed while its live stop order left the book was closed by that stop."""
    return trade.stop_loss_order_id is not None and trade.stop_loss_order_id not in open_stops


def stop_fired(order: Order | None) -> bool:
    """Whether a stop that vanished from the open stops fired (for all or part of the size)
    rather than being cancelled by hand: its own state says so, triggered or with a fill."""
    return order is not None and (
        order.status in (OrderStatus.TRIGGERED, OrderStatus.CLOSED) or order.filled > 0)
