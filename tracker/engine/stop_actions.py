"""Carrying out each trade's stop-loss actions on the exchange, several trades side by side
(the shell); cleaning up leftovers and orphans is ``cleanup_actions``."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from enum import StrEnum
from typing import TypedDict

from positionbot.tracker.core.client_ids import client_order_id
from positionbot.tracker.core.ledger import Outcome
from positionbot.tracker.core.models import (
    Market,
    Order,
    OrderStatus,
    Side,
    Source,
    Trade,
)
from positionbot.tracker.core.notices import (
    StopLossCleared,
    StopLossFailed,
    StopLossPlaced,
    StopLossRemoved,
)
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
    StopPriceCrossedError,
    TransientExchangeError,
)
from positionbot.tracker.engine.side_by_side import merged, side_by_side

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


async def place_stop(gw: ExchangeGateway, t: Trade, price: Decimal, size: Decimal, hedge: bool) -> Order:
    """Place a stop, or find the one an earlier attempt already placed: never two."""
    cid = client_order_id(t.id, "sl", t.event_seq, price, size)
    try:
        return await gw.place_stop_loss(t.symbol, t.side, size, price, cid, hedge)
    except StopPriceCrossedError:
        raise  # refused outright: nothing to look for
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
                            error=message, unconfirmed=message == UNCONFIRMED,
                            crossed_by=_crossed_by(t, message))
    return replace(t, stop_loss_note=message), notice


def _crossed_head(t: Trade) -> str:
    return f"stop {t.stop_loss_price} is already crossed ("


def crossed_note(t: Trade, why: str) -> str:
    """The one warning for a stop whose price is already crossed, whether the bot's mark or the
    exchange's refusal says so: while it stays crossed at that price the first words are kept,
    so the mark moving on, or the other source saying it again, is no news."""
    head, told = _crossed_head(t), t.stop_loss_note or ""
    return told if told.startswith(head) else \
        f"{head}{why}); not placed until the price is back on the right side"


def _crossed_by(t: Trade, note: str) -> str:
    """Who found the stop crossed (the ``why`` of ``crossed_note``), so the push can say it is
    waiting for the price rather than failing; empty for any other note."""
    head = _crossed_head(t)
    return note[len(head):].rpartition(")")[0] if note.startswith(head) else ""


def failure_note(t: Trade, e: ExchangeError) -> str:
    """What a failed stop placement is recorded and pushed as: the exchange's reason in short;
    an unknown outcome is not a refusal, and a crossed price is the crossed warning. Their words
    stay the same over the cycles that check again, so each is told once."""
    if isinstance(e, OrderOutcomeUnknownError):
        return UNCONFIRMED
    return crossed_note(t, e.reason) if isinstance(e, StopPriceCrossedError) else e.reason


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
            _failure(t, failure_note(t, e), out)
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
        _failure(t, crossed_note(t, f"mark {marks.get(t.id)}"), out)
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
        _failure(fired, failure_note(fired, e), out)  # the same words as the retries: told once
        if all(u.id != t.id for u in out.trades):  # no new failure notice: record it still
            out.trades.append(fired)
        return
    placed = replace(fired, stop_loss_order_id=order.id, stop_loss_size=t.size,
                     stop_loss_note=None)
    out.trades.append(placed)
    out.notices.append(StopLossPlaced(**stop_figures(placed, f"placed/{order.id}"),
                                      order_id=order.id))
    out.lines.append(f"stop loss fired in part {t.symbol}; {t.size} protected again")
