"""Acting on the exchange after the commit: stop losses and orphaned entries (the shell)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypedDict

from positionbot.tracker.core.client_ids import client_order_id, is_bot_order, trade_of
from positionbot.tracker.core.ledger import Outcome
from positionbot.tracker.core.models import (
    Market,
    Order,
    OrderStatus,
    Side,
    Source,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.notices import (
    PendingCancelled,
    StopLossCleared,
    StopLossFailed,
    StopLossPlaced,
    StopLossRemoved,
)
from positionbot.tracker.core.orphans import OrphanVerdict, orphan_decision
from positionbot.tracker.core.stoploss import (
    StopAction,
    StopActionKind,
    round_stop_price,
    stop_fired,
)
from positionbot.tracker.engine.ports import (
    ExchangeError,
    ExchangeGateway,
    OrderOutcomeUnknownError,
    OrderRejectedError,
    PositionsBySymbol,
    TransientExchangeError,
)
from positionbot.tracker.engine.side_by_side import merged as merged  # re-exported
from positionbot.tracker.engine.side_by_side import side_by_side

log = logging.getLogger(__name__)

STOP_CONCURRENCY = 8
"""Trades whose stop actions are in flight at once: their round trips overlap, and the
gateway's order pacer holds the orders within the exchange's rate limits."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class _StopFigures(TypedDict):
    account: str
    dedupe_key: str
    trade_id: int
    symbol: str
    side: Side
    source: Source
    price: Decimal | None
    size: Decimal


def stop_figures(t: Trade, key: str) -> _StopFigures:
    """What every stop-loss notice says of its trade; ``key`` makes the notice unique."""
    return {"account": t.account, "dedupe_key": f"{t.account}/sl/{t.id}/{key}",
            "trade_id": t.id, "symbol": t.symbol, "side": t.side, "source": t.source,
            "price": t.stop_loss_price, "size": t.size}


def pending_cancelled_notice(t: Trade, reason: str) -> PendingCancelled:
    return PendingCancelled(account=t.account, dedupe_key=f"{t.account}/pending/{t.id}/cancelled",
                            trade_id=t.id, symbol=t.symbol, side=t.side, source=t.source,
                            reason=reason)


async def place_stop(gw: ExchangeGateway, t: Trade, price: Decimal, size: Decimal, hedge: bool) -> Order:
    """Place a stop, or find the one an earlier attempt already placed: never two."""
    cid = client_order_id(t.id, "sl", t.event_seq, price, size)
    try:
        return await gw.place_stop_loss(t.symbol, t.side, size, price, cid, hedge)
    except (TransientExchangeError, OrderRejectedError):
        found = await gw.fetch_order(t.symbol, client_order_id=cid, stop=True)
        if found is not None and found.status is OrderStatus.OPEN:
            return found
        raise


class Swap(StrEnum):
    """How replacing a live stop by a new one ended."""

    DONE = "done"  # the old stop is gone: only the new one is live
    ROLLED_BACK = "rolled_back"  # the old one could not be cancelled, so the new one was
    BOTH_LIVE = "both_live"  # neither could be cancelled: the next cycle cancels the old one


async def swap_stop(gw: ExchangeGateway, t: Trade, new: Order) -> Swap:
    """Cancel ``t``'s recorded stop now that ``new`` is live, never leaving two stops behind.

    The new stop is placed first so the position is never without one. If the old one cannot be
    cancelled it is looked up (a cancel whose answer was lost has done its work); if it is still
    live, the new one is cancelled instead. Only when that fails too are both live, and then
    the caller records the new one and has the account's stops reconciled.
    """
    old = t.stop_loss_order_id
    if old is None or old == new.id:
        return Swap.DONE
    try:
        await gw.cancel_order(t.symbol, old, stop=True)
        return Swap.DONE
    except ExchangeError as e:
        log.warning("could not cancel the replaced stop %s of trade %s: %s", old, t.id, e)
    with contextlib.suppress(ExchangeError):
        found = await gw.fetch_order(t.symbol, order_id=old, stop=True)
        if found is None or found.status is not OrderStatus.OPEN:
            return Swap.DONE
    try:
        await gw.cancel_order(t.symbol, new.id, stop=True)
    except ExchangeError as e:
        log.warning("could not roll back the new stop %s of trade %s: %s", new.id, t.id, e)
        return Swap.BOTH_LIVE
    return Swap.ROLLED_BACK


UNCONFIRMED = ("outcome unknown: the exchange did not say whether it took the stop order; "
               "checking on the next cycles (it is never placed twice)")
"""The note of a stop whose create got no certain answer: pushed once, and when a later cycle
finds or places the stop, the trader is told it is live."""


def stop_failure(t: Trade, message: str) -> tuple[Trade, StopLossFailed | None]:
    """Remember the failure on the trade; push it only when it differs from the last one."""
    if t.stop_loss_note == message:
        return t, None
    notice = StopLossFailed(**stop_figures(t, f"failed/{t.event_seq}/{_digest(message)}"),
                            error=message, unconfirmed=message == UNCONFIRMED)
    return replace(t, stop_loss_note=message), notice


def failure_note(e: ExchangeError) -> str:
    """What a failed stop placement is recorded and pushed as: an unknown outcome is not a
    refusal, and its words stay the same over the cycles that check it, so it is told once."""
    return UNCONFIRMED if isinstance(e, OrderOutcomeUnknownError) else str(e)


def _failure(t: Trade, message: str, out: Outcome) -> None:
    out.errors.append(f"stop loss {t.symbol}: {message}")
    updated, notice = stop_failure(t, message)
    if notice is not None:
        log.error("alert: the stop loss of trade %s (%s) failed: %s", t.id, t.symbol, message,
                  extra={"account": t.account, "trade_id": t.id})
        out.trades.append(updated)
        out.notices.append(notice)


async def execute_stop_actions(
    gw: ExchangeGateway,
    actions: Sequence[StopAction],
    markets: Mapping[str, Market],
    hedge: bool,
    marks: Mapping[int, Decimal],
) -> Outcome:
    """Carry out the stop actions, up to ``STOP_CONCURRENCY`` trades at a time.

    A trade's actions run in order in one task (a move places the new stop before cancelling
    the old), so running trades side by side never gives one trade two stops; the gateway
    paces the orders within the exchange's rate limits. Each trade records into an outcome of
    its own, merged in the actions' order, so a failure is reported for its trade only.
    """
    by_trade: dict[int, list[StopAction]] = {}
    for a in actions:
        by_trade.setdefault(a.trade.id, []).append(a)
    work = [(trade_actions, Outcome()) for trade_actions in by_trade.values()]

    async def run(item: tuple[list[StopAction], Outcome]) -> None:
        trade_actions, out = item
        for a in trade_actions:
            await _execute_guarded(gw, a, markets, hedge, marks, out)

    await side_by_side(work, run, STOP_CONCURRENCY)
    return merged([out for _, out in work])


async def _execute_guarded(
    gw: ExchangeGateway, a: StopAction, markets: Mapping[str, Market], hedge: bool,
    marks: Mapping[int, Decimal], out: Outcome,
) -> None:
    t = a.trade
    try:
        await _execute_one(gw, a, t, markets, hedge, marks, out)
    except ExchangeError as e:
        if a.kind in (StopActionKind.PLACE, StopActionKind.REPLACE):
            _failure(t, failure_note(e), out)
        else:
            out.errors.append(f"stop loss {t.symbol}: {e}")
            log.warning("stop-loss %s for trade %s failed: %s", a.kind, t.id, e)
    except Exception as e:  # the other trades' outcomes must still be recorded
        log.exception("stop-loss %s for trade %s failed unexpectedly", a.kind, t.id)
        out.errors.append(f"stop loss {t.symbol}: unexpected {type(e).__name__}: {e}")


async def _execute_one(
    gw: ExchangeGateway, a: StopAction, t: Trade, markets: Mapping[str, Market], hedge: bool,
    marks: Mapping[int, Decimal], out: Outcome,
) -> None:
    kind = a.kind
    if kind is StopActionKind.CROSSED:
        crossed, told = f"stop {t.stop_loss_price} is already crossed", t.stop_loss_note or ""
        note = told if told.startswith(crossed + " (") else \
            f"{crossed} (mark {marks.get(t.id)}); not placed"
        _failure(t, note, out)  # told once: the mark moving on while crossed is no news
    elif kind in (StopActionKind.PLACE, StopActionKind.REPLACE):
        assert t.stop_loss_price is not None
        market = markets.get(t.symbol)
        price = t.stop_loss_price
        if market is not None:
            price = round_stop_price(t.side, price, market.price_tick)
        order = await place_stop(gw, t, price, t.size, hedge)
        swap = await swap_stop(gw, t, order) if kind is StopActionKind.REPLACE else Swap.DONE
        if swap is Swap.ROLLED_BACK:
            out.errors.append(f"stop loss {t.symbol}: the previous stop could not be cancelled; "
                              "it stays until the next cycle")
            return
        placed = replace(t, stop_loss_price=price, stop_loss_order_id=order.id,
                         stop_loss_size=t.size, stop_loss_note=None)
        out.trades.append(placed)
        if swap is Swap.BOTH_LIVE:  # recorded; the account's reconciliation cancels the old one
            out.errors.append(f"stop loss {t.symbol}: the previous stop {t.stop_loss_order_id} "
                              "could not be cancelled yet")
        if kind is StopActionKind.PLACE or t.stop_loss_note == UNCONFIRMED:  # news for the trader
            out.notices.append(StopLossPlaced(**stop_figures(placed, f"placed/{order.id}"),
                                              order_id=order.id))
        out.lines.append(f"stop loss {kind.value}d {t.symbol} {t.side.value} {t.size} @ {price}")
    elif kind is StopActionKind.CANCEL:
        assert t.stop_loss_order_id is not None
        await gw.cancel_order(t.symbol, t.stop_loss_order_id, stop=True)
        out.trades.append(replace(t, stop_loss_price=None, stop_loss_order_id=None,
                                  stop_loss_size=None, stop_loss_note=None))
        out.notices.append(StopLossCleared(**stop_figures(t, f"cleared/{t.stop_loss_order_id}"),
                                           reason="position closed"))
        out.lines.append(f"stop loss cancelled {t.symbol}: position closed")
    elif kind is StopActionKind.CLEAR:
        out.trades.append(replace(t, stop_loss_price=None, stop_loss_order_id=None,
                                  stop_loss_size=None, stop_loss_note=None))
    elif kind is StopActionKind.REMOVED and await _fired(gw, t):
        await _reprotect(gw, t, hedge, out)
    elif kind is StopActionKind.REMOVED:
        out.trades.append(replace(t, stop_loss_price=None, stop_loss_order_id=None,
                                  stop_loss_size=None, stop_loss_note=None))
        out.notices.append(StopLossRemoved(**stop_figures(t, f"removed/{t.stop_loss_order_id}")))
        out.lines.append(f"stop loss removed by hand {t.symbol}")


async def _fired(gw: ExchangeGateway, t: Trade) -> bool:
    """Ask the vanished stop's own state: fired (in part, as the position remains) or removed."""
    assert t.stop_loss_order_id is not None
    try:
        order = await gw.fetch_order(t.symbol, order_id=t.stop_loss_order_id, stop=True)
    except ExchangeError as e:
        log.warning("stop %s of trade %s: state unknown (%s); taken as removed",
                    t.stop_loss_order_id, t.id, e)
        return False
    return stop_fired(order)


async def _reprotect(gw: ExchangeGateway, t: Trade, hedge: bool, out: Outcome) -> None:
    """The stop fired for part of the position: protect what remains at the same price."""
    fired = replace(t, stop_loss_order_id=None, stop_loss_size=None)
    out.notices.append(StopLossCleared(
        **stop_figures(t, f"fired/{t.stop_loss_order_id}"),
        reason=f"the stop fired for part of the position; {t.size} remains, to be protected "
               f"again at {t.stop_loss_price}"))
    assert t.stop_loss_price is not None
    try:
        order = await place_stop(gw, fired, t.stop_loss_price, t.size, hedge)
    except ExchangeError as e:
        _failure(fired, failure_note(e), out)  # the same words as the retries: told once
        if all(u.id != t.id for u in out.trades):  # no new failure notice: record it still
            out.trades.append(fired)
        return
    placed = replace(fired, stop_loss_order_id=order.id, stop_loss_size=t.size,
                     stop_loss_note=None)
    out.trades.append(placed)
    out.notices.append(StopLossPlaced(**stop_figures(placed, f"placed/{order.id}"),
                                      order_id=order.id))
    out.lines.append(f"stop loss fired in part {t.symbol}; {t.size} protected again")


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
    await side_by_side(work, lambda item: _cancel_leftover(gw, *item), STOP_CONCURRENCY)
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
