"""Bot-placed trading: entries, reduce-only closes and cancelling pending entries.

The pending trade is written before its entry order is sent, carrying the order's client id,
so a crash between the two leaves a trade the orphan rules can resolve by that id. Closes are
only sent here; the cycle records what they did (one source of truth).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from tracker.actions import pending_cancelled_notice
from tracker.client_ids import client_order_id
from tracker.gateway import ExchangeError, OrderRejectedError, TransientExchangeError
from tracker.models import (
    Market,
    Order,
    Side,
    Source,
    Trade,
    TradeStatus,
)
from tracker.plan import BOT_CLOSE
from tracker.stoploss import is_crossed
from tracker.tracker import SimplePositionTracker


class TradingError(ValueError):
    """A command that cannot be carried out; its message is meant for the trader."""


@dataclass(frozen=True, slots=True)
class EntryPreview:
    account: str
    market: Market
    side: Side
    amount: Decimal
    price: Decimal | None  # None: market order
    reference_price: Decimal  # the limit price, or the mark for a market order
    notional: Decimal
    stop_loss: Decimal | None


def round_amount(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_DOWN) * step


def _mark(tracker: SimplePositionTracker, account: str, symbol: str) -> Decimal | None:
    snap = tracker.last_snapshot(account)
    for p in snap.positions if snap else ():
        if p.symbol == symbol and p.mark_price is not None:
            return p.mark_price
    return None


async def preview_entry(
    tracker: SimplePositionTracker, account: str, symbol: str, side: Side, amount: Decimal,
    price: Decimal | None, stop_loss: Decimal | None, mark: Decimal | None,
) -> EntryPreview:
    """Validate an entry against the market's rules before anything is sent."""
    markets = await tracker.markets(account)
    market = markets.get(symbol)
    if market is None:
        raise TradingError(f"unknown symbol {symbol}")
    if amount <= 0 or (price is not None and price <= 0):
        raise TradingError("size and price must be positive")
    rounded = round_amount(amount, market.amount_step)
    if rounded != amount:
        raise TradingError(f"size must be a multiple of {market.amount_step} (e.g. {rounded})")
    if amount < market.min_amount:
        raise TradingError(f"size below the minimum of {market.min_amount}")
    if price is not None and (price / market.price_tick) % 1 != 0:
        raise TradingError(f"price must be a multiple of {market.price_tick}")
    reference = price if price is not None else (mark or _mark(tracker, account, symbol))
    if reference is None:
        raise TradingError(f"no price known for {symbol}; give a limit price with @PRICE")
    notional = amount * market.contract_size * reference
    if notional < market.min_notional:
        raise TradingError(f"order value {notional} below the minimum of {market.min_notional}")
    if stop_loss is not None and is_crossed(side, stop_loss, reference):
        where = "below" if side is Side.LONG else "above"
        raise TradingError(f"a {side.value} stop loss must be {where} the entry price {reference}")
    return EntryPreview(account, market, side, amount, price, reference, notional, stop_loss)


async def open_entry(tracker: SimplePositionTracker, preview: EntryPreview) -> Trade:
    """Record the pending trade, then send its entry order; the cycle links the position."""
    account, symbol = preview.account, preview.market.symbol
    async with tracker.account_lock(account):
        trade_id = tracker.new_trade_id()
        cid = client_order_id(trade_id, "entry", preview.side.value, preview.amount, preview.price)
        pending = Trade(trade_id, account, symbol, preview.side, TradeStatus.PENDING, Source.BOT,
                        contract_size=preview.market.contract_size, entry_client_order_id=cid,
                        entry_price_limit=preview.price, stop_loss_price=preview.stop_loss,
                        created_at=tracker.now())
        await tracker.commit_trade(pending, [])
        try:
            order = await _send_entry(tracker, pending, preview, cid)
        except OrderRejectedError as e:
            await _cancel(tracker, pending, f"entry order rejected: {e}")
            raise TradingError(f"the exchange refused the order: {e}") from e
        except ExchangeError as e:
            raise TradingError(f"entry order not confirmed ({e}); the next sync resolves it") from e
        placed = replace(pending, entry_order_id=order.id)
        await tracker.commit_trade(placed, [])
        return placed


async def _send_entry(tracker: SimplePositionTracker, t: Trade, preview: EntryPreview, cid: str) -> Order:
    gw = tracker.gateway(t.account)
    try:
        return await gw.place_entry(t.symbol, t.side, preview.amount, preview.price, cid,
                                    tracker.is_hedge(t.account))
    except TransientExchangeError:
        found = await gw.fetch_order(t.symbol, client_order_id=cid)
        if found is None:
            raise
        return found


async def close_position(tracker: SimplePositionTracker, trade_id: int, amount: Decimal | None) -> Order:
    """Send a reduce-only market order for all (``None``) or part of an open trade."""
    t = tracker.find_active(trade_id)
    if t is None or t.status is not TradeStatus.OPEN:
        raise TradingError(f"trade #{trade_id} has no open position")
    markets = await tracker.markets(t.account)
    step = markets[t.symbol].amount_step if t.symbol in markets else Decimal("1e-8")
    qty = t.size if amount is None else round_amount(amount, step)
    if qty <= 0 or qty > t.size:
        raise TradingError(f"close size must be between {step} and {t.size}")
    async with tracker.account_lock(t.account):
        current = tracker.find_active(trade_id)
        if current is None or current.status is not TradeStatus.OPEN:
            raise TradingError(f"trade #{trade_id} has no open position")
        marked = replace(current, close_reason=BOT_CLOSE)
        await tracker.commit_trade(marked, [])
        cid = client_order_id(trade_id, "close", current.event_seq, qty)
        gw = tracker.gateway(t.account)
        try:
            return await gw.place_reduce(t.symbol, t.side, qty, cid, tracker.is_hedge(t.account))
        except OrderRejectedError:
            await tracker.commit_trade(current, [])  # refused: a later close is not the bot's
            raise
        except TransientExchangeError:
            found = await gw.fetch_order(t.symbol, client_order_id=cid)
            if found is None:
                raise
            return found


async def cancel_pending(tracker: SimplePositionTracker, trade_id: int) -> Trade:
    """Cancel a pending trade's resting entry order on the exchange, then the trade."""
    t = tracker.find_active(trade_id)
    if t is None or t.status is not TradeStatus.PENDING:
        raise TradingError(f"trade #{trade_id} is not a pending entry")
    async with tracker.account_lock(t.account):
        current = tracker.find_active(trade_id)
        if current is None or current.status is not TradeStatus.PENDING:
            raise TradingError(f"trade #{trade_id} is not a pending entry")
        if current.entry_order_id is not None:
            try:
                await tracker.gateway(t.account).cancel_order(t.symbol, current.entry_order_id)
            except ExchangeError as e:
                raise TradingError(f"could not cancel the entry order: {e}") from e
        return await _cancel(tracker, current, "cancelled from the chat")


async def _cancel(tracker: SimplePositionTracker, t: Trade, reason: str) -> Trade:
    cancelled = replace(t, status=TradeStatus.CANCELLED, close_reason=reason, closed_at=tracker.now())
    await tracker.commit_trade(cancelled, [pending_cancelled_notice(t, reason)])
    return cancelled
