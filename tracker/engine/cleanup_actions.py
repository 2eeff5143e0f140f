"""Cleaning up after the exchange (the shell): bot stops no trade records any more are adopted
or cancelled, and pending entries that will never become positions are cancelled."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from positionbot.tracker.core.client_ids import is_bot_order, trade_of
from positionbot.tracker.core.ledger import Outcome
from positionbot.tracker.core.models import Order, OrderStatus, Side, Source, Trade, TradeStatus
from positionbot.tracker.core.notices import PendingCancelled, StopLossCleared, StopLossPlaced
from positionbot.tracker.core.orphans import OrphanVerdict, orphan_decision
from positionbot.tracker.engine import stop_actions
from positionbot.tracker.engine.ports import ExchangeError, ExchangeGateway, PositionsBySymbol
from positionbot.tracker.engine.side_by_side import merged, side_by_side
from positionbot.tracker.engine.stop_actions import stop_figures

log = logging.getLogger(__name__)


def pending_cancelled_notice(t: Trade, reason: str) -> PendingCancelled:
    return PendingCancelled(account=t.account, dedupe_key=f"{t.account}/pending/{t.id}/cancelled",
                            trade_id=t.id, symbol=t.symbol, side=t.side, source=t.source,
                            reason=reason)


async def cancel_leftover_stops(
    gw: ExchangeGateway, stops: Mapping[str, Order], recorded: set[str],
    adoptable: Sequence[Trade] = (),
) -> Outcome:
    """Adopt or cancel the bot's resting stops that no trade records, telling the trader.

    Such a stop is left by an attempt whose outcome never reached the database (the process
    died, or the answer was lost, between the exchange accepting the order and the commit), or
    by an earlier record the database no longer holds (started fresh). One that exactly covers
    an ``adoptable`` position (a fresh record's, without a stop) becomes its stop; any other
    would be a second, stale stop and is cancelled.
    """
    out = Outcome()
    free = [t for t in adoptable if t.stop_loss_order_id is None and t.stop_loss_price is None]
    doomed: list[Order] = []
    for order in stops.values():
        if order.id in recorded or not is_bot_order(order.client_order_id):
            continue
        owner = next((t for t in free if t.symbol == order.symbol and t.size == order.amount
                      and order.side is t.side.exit_order_side), None)
        if owner is not None and order.trigger_price is not None:
            free.remove(owner)
            adopted = replace(owner, stop_loss_price=order.trigger_price, stop_loss_order_id=order.id,
                              stop_loss_size=order.amount, stop_loss_note=None)
            out.trades.append(adopted)
            out.notices.append(StopLossPlaced(**stop_figures(adopted, f"adopted/{order.id}"),
                                              order_id=order.id))
            out.lines.append(f"leftover stop {order.id} adopted by trade {owner.id}")
        else:
            doomed.append(order)
    work = [(order, Outcome()) for order in doomed]
    await side_by_side(work, lambda item: _cancel_leftover(gw, *item), stop_actions.STOP_CONCURRENCY)
    return merged([out, *(part for _, part in work)])


async def _cancel_leftover(gw: ExchangeGateway, order: Order, out: Outcome) -> None:
    try:
        await gw.cancel_order(order.symbol, order.id, stop=True)
    except ExchangeError as e:
        out.errors.append(f"leftover stop {order.id}: {e}")
        return
    log.warning("cancelled leftover stop %s (%s) on %s: no trade records it",
                order.id, order.client_order_id, order.symbol)
    out.notices.append(StopLossCleared(
        account=gw.account, dedupe_key=f"{gw.account}/leftover/{order.id}",
        trade_id=trade_of(order.client_order_id) or 0, symbol=order.symbol,
        side=Side.LONG if order.side is Side.LONG.exit_order_side else Side.SHORT,
        source=Source.BOT, price=order.trigger_price, size=order.amount,
        reason=f"positionbot stop {order.id} was left on the exchange with no trade "
               "recording it (a crash, a lost answer or an earlier record): cancelled"))
    out.lines.append(f"leftover stop {order.id} cancelled {order.symbol}")


async def resolve_orphans(
    gw: ExchangeGateway, orphans: Sequence[Trade], now: datetime, pending_timeout: timedelta,
    merged: Mapping[int, int] | None = None, ages: Mapping[int, timedelta] | None = None,
) -> Outcome:
    """Cancel pending trades that will never become positions, each with its reason;
    ``merged`` maps a pending trade to the open trade already holding its position, ``ages``
    how long each has waited on a clock wall-clock steps cannot move (``orphan_decision``)."""
    out = Outcome()
    if not orphans:
        return out
    try:
        open_orders = {o.id: o for o in await gw.fetch_open_orders([t.symbol for t in orphans])}
    except ExchangeError as e:
        out.errors.append(f"open orders: {e}")
        return out
    for t in orphans:
        try:
            order = await _entry_order(gw, t, open_orders)
            into, age = (merged or {}).get(t.id), (ages or {}).get(t.id)
            decision = orphan_decision(t, order, now, pending_timeout, into, age)
            young = (age if age is not None else now - (t.created_at or now)) < pending_timeout
            if decision.verdict is OrphanVerdict.KEEP or (
                    into is None and young and await _filled_since(gw, t, order)):
                continue
            if decision.verdict is OrphanVerdict.CANCEL_ORDER and order is not None:
                await gw.cancel_order(t.symbol, order.id)
        except ExchangeError as e:
            out.errors.append(f"pending trade {t.id}: {e}")
            continue
        cancelled = replace(t, status=TradeStatus.CANCELLED, close_reason=decision.reason,
                            closed_at=now, stop_loss_order_id=None,
                            entry_order_id=order.id if order is not None else t.entry_order_id)
        out.trades.append(cancelled)
        out.notices.append(pending_cancelled_notice(t, decision.reason))
        out.lines.append(f"pending trade {t.id} {t.symbol} cancelled: {decision.reason}")
    return out


async def _filled_since(gw: ExchangeGateway, t: Trade, order: Order | None) -> bool:
    """A filled entry with no position in the cycle's snapshot may have filled after it was
    taken: a position there now is the trade's, for the next look (cycle or stream) to open.
    (One the cycle never counts, such as dust, keeps it only until the pending timeout.)"""
    if order is None or order.status is not OrderStatus.CLOSED:
        return False
    snap = await (gw.fetch_positions_of([t.symbol]) if isinstance(gw, PositionsBySymbol)
                  else gw.fetch_positions())
    return any(p.symbol == t.symbol and p.side is t.side for p in snap.positions)


async def _entry_order(gw: ExchangeGateway, t: Trade, open_orders: Mapping[str, Order]) -> Order | None:
    if t.entry_order_id is not None:
        return open_orders.get(t.entry_order_id) or await gw.fetch_order(
            t.symbol, order_id=t.entry_order_id)
    if t.entry_client_order_id is not None:
        return await gw.fetch_order(t.symbol, client_order_id=t.entry_client_order_id)
    return None
