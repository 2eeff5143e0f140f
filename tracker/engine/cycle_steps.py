"""Steps of a polled cycle that need no runner state: the context a change is priced with,
whether a stop fired, and the exchange's own entry kept beside ours."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from positionbot.tracker.core.accounting import Replay
from positionbot.tracker.core.classify import Change, PositionKey, key_of
from positionbot.tracker.core.ledger import PricedChange
from positionbot.tracker.core.models import (
    ChangeKind,
    Market,
    Order,
    OrderStatus,
    Position,
    PositionMode,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.stoploss import closed_by_stop
from positionbot.tracker.engine.book import AccountBook
from positionbot.tracker.engine.ports import ExchangeError, ExchangeGateway
from positionbot.tracker.engine.report import EntryMismatch

log = logging.getLogger(__name__)


async def attach_context(
    book: AccountBook, gw: ExchangeGateway, account: str, changes: Sequence[Change],
    replays: Mapping[int, Replay | None], previous: Mapping[PositionKey, Position],
    stops: Mapping[str, Order], dust_keys: set[PositionKey],
) -> list[PricedChange]:
    """Attach to each change its fills replay, last mark, pending bot trade and stop verdict."""
    if not changes:
        return []
    pending = sorted((t for t in book.active_by_id(account).values()
                      if t.status is TradeStatus.PENDING), key=lambda t: t.id)
    priced = []
    for i, c in enumerate(changes):
        match = None
        if c.kind is ChangeKind.OPENED and c.position is not None:
            match = next((t for t in pending if t.symbol == c.position.symbol
                          and t.side is c.position.side), None)
            if match is not None:
                pending.remove(match)
        hit = False
        if c.kind is ChangeKind.CLOSED and c.trade is not None and closed_by_stop(c.trade, stops):
            hit = await stop_fired(gw, c.trade)
        last = previous.get(c.key)
        priced.append(PricedChange(c, replays.get(i), last.mark_price if last else None, match,
                                   hit, c.kind is ChangeKind.CLOSED and c.key in dust_keys))
    return priced


async def stop_fired(gw: ExchangeGateway, trade: Trade) -> bool:
    """Did the stop order fire (rather than being cancelled by hand before a manual close)?"""
    assert trade.stop_loss_order_id is not None
    try:
        order = await gw.fetch_order(trade.symbol, order_id=trade.stop_loss_order_id, stop=True)
    except ExchangeError:
        return True
    return order is None or order.status in (OrderStatus.TRIGGERED, OrderStatus.CLOSED)


def check_entries(book: AccountBook, account: str, by_key: Mapping[PositionKey, Position],
                  mode: PositionMode, markets: Mapping[str, Market], changed: set[int]
                  ) -> list[Trade]:
    """Keep the exchange's entry beside ours; log a difference beyond one tick.

    A trade whose exchange entry has not moved since its last verdict is skipped: at
    10,000 positions the Decimal comparisons would otherwise dominate a steady cycle."""
    updates = []
    checked = book.entries_checked
    mismatches = book.mismatches
    for t in book.active_by_id(account).values():
        p = by_key.get(key_of(t.symbol, t.side, mode))
        # A flip the verification fetch saw first is not confirmed yet: not this trade's entry.
        if not t.is_open or p is None or t.id in changed or p.side is not t.side:
            continue
        if t.id in checked and p.entry_price == t.exchange_entry_price:
            continue
        checked.add(t.id)
        if p.entry_price != t.exchange_entry_price:
            updates.append(replace(t, exchange_entry_price=p.entry_price))
        tick = markets[t.symbol].price_tick if t.symbol in markets else Decimal(0)
        if abs(t.avg_entry_price - p.entry_price) > tick:
            if t.id not in mismatches:
                log.warning("entry mismatch %s #%s: ours %s, exchange %s", t.symbol, t.id,
                        t.avg_entry_price, p.entry_price)
            mismatches[t.id] = EntryMismatch(t.id, t.symbol, t.avg_entry_price, p.entry_price)
        else:
            mismatches.pop(t.id, None)
    return updates
