"""Steps of a polled cycle that need no runner state: the context a change is priced with,
whether a stop fired (in full or in part), and the exchange's own entry kept beside ours."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from positionbot.tracker.core.accounting import Replay
from positionbot.tracker.core.classify import Change, PositionKey, key_of
from positionbot.tracker.core.client_ids import is_bot_order, trade_of
from positionbot.tracker.core.ledger import Outcome, PricedChange
from positionbot.tracker.core.legs import split_legs
from positionbot.tracker.core.models import (
    ChangeKind,
    Fill,
    Market,
    Order,
    OrderSide,
    OrderStatus,
    Position,
    PositionMode,
    Side,
    Source,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.notices import PendingCancelled
from positionbot.tracker.core.stoploss import closed_by_stop
from positionbot.tracker.core.stoploss import stop_fired as fired_in_part
from positionbot.tracker.engine.book import AccountBook
from positionbot.tracker.engine.cleanup_actions import cancel_leftover_stops, resolve_orphans
from positionbot.tracker.engine.ports import ExchangeError, ExchangeGateway
from positionbot.tracker.engine.report import EntryMismatch
from positionbot.tracker.engine.side_by_side import merged

log = logging.getLogger(__name__)


async def attach_context(
    book: AccountBook, gw: ExchangeGateway, account: str, changes: Sequence[Change],
    replays: Mapping[int, Replay | None], previous: Mapping[PositionKey, Position],
    stops: Mapping[str, Order], dust_keys: set[PositionKey],
    fills: Mapping[int, Sequence[Fill]] | None = None, fired: Mapping[int, Order] | None = None,
) -> list[PricedChange]:
    """Attach to each change its fills replay, last mark, pending bot trade and stop verdict.

    A change of a trade whose stop fired in part (``fired``, by trade id) is split into the
    legs its fills (``fills``, by change index) show, so the stop's fill is pushed as the
    decrease it was, with its own P&L."""
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
        last = previous.get(c.key)
        stop = (fired or {}).get(c.trade.id) if c.trade is not None else None
        if stop is not None:
            priced += fired_legs(c, replays.get(i), (fills or {}).get(i, ()), stop,
                                 last.mark_price if last else None)
            continue
        hit = False
        if c.kind is ChangeKind.CLOSED and c.trade is not None and closed_by_stop(c.trade, stops):
            hit = await stop_fired(gw, c.trade)
        priced.append(PricedChange(c, replays.get(i), last.mark_price if last else None, match,
                                   hit, c.kind is ChangeKind.CLOSED and c.key in dust_keys))
    return priced


async def with_fired_stops(
    gw: ExchangeGateway, open_trades: Sequence[Trade], changes: list[Change],
    stops: Mapping[str, Order] | None, by_key: Mapping[PositionKey, Position], mode: PositionMode,
) -> tuple[list[Change], dict[int, Order]]:
    """The changes, plus one for each trade whose stop fired in part while its size ended
    where it was (a manual add in the same interval), and the fired stops by trade id.

    Only a trade whose recorded stop left the open stops (``stops``: None when they were not
    listed this cycle) while its position stayed, grown or shrunk, is asked about; its stop's
    own state says whether it fired."""
    if stops is None:
        return changes, {}
    moved = {c.key: c for c in changes}
    extra: list[Change] = []
    fired: dict[int, Order] = {}
    for t in open_trades:
        if t.stop_loss_order_id is None or t.stop_loss_order_id in stops:
            continue
        k = key_of(t.symbol, t.side, mode)
        c, p = moved.get(k), by_key.get(k)
        if p is None or p.side is not t.side or (c is not None and (
                c.trade is None or c.trade.id != t.id
                or c.kind not in (ChangeKind.INCREASED, ChangeKind.DECREASED))):
            continue
        try:
            order = await gw.fetch_order(t.symbol, order_id=t.stop_loss_order_id, stop=True)
        except ExchangeError as e:
            log.warning("stop %s of trade %s: state unknown (%s)", t.stop_loss_order_id, t.id, e)
            continue
        if not fired_in_part(order):
            continue
        assert order is not None
        fired[t.id] = order
        if c is None:
            extra.append(Change(ChangeKind.DECREASED, k, t, p))
    return [*changes, *extra], fired


def fired_legs(c: Change, replay: Replay | None, fills: Sequence[Fill], stop: Order,
               last_mark: Decimal | None) -> list[PricedChange]:
    """A change of a trade whose stop fired in part, as the legs its fills show: each run in
    one direction booked from its own fills. Without the stop's fill among them (the fills
    could not be had), an unchanged size is estimated: the add at the price the exchange's
    entry implies, the stop's fill at its trigger price."""
    t, p = c.trade, c.position
    assert t is not None and p is not None
    own = {stop.id, stop.triggered_order_id}
    legs = split_legs(t.side, t.size, t.avg_entry_price, fills, t.contract_size) if (
        replay is not None and any(f.order_id in own for f in fills)) else None
    if legs is not None:
        return [PricedChange(
            Change(leg.kind, c.key, None if leg.kind is ChangeKind.OPENED else t,
                   None if leg.side is None else replace(p, side=leg.side, size=leg.size)),
            leg.replay, last_mark,
            stop_hit=leg.kind is ChangeKind.CLOSED and any(f.order_id in own for f in leg.fills),
            chained=n > 0 and leg.kind is not ChangeKind.OPENED)
            for n, leg in enumerate(legs)]
    if p.size != t.size:
        return [PricedChange(c, replay, last_mark)]
    qty = stop.filled if stop.filled > 0 else (t.stop_loss_size or t.size)
    price = stop.trigger_price or t.stop_loss_price or last_mark
    return [PricedChange(Change(ChangeKind.INCREASED, c.key, t, replace(p, size=t.size + qty)),
                         None, last_mark),
            PricedChange(Change(ChangeKind.DECREASED, c.key, t, p), None, price, chained=True)]


async def stop_fired(gw: ExchangeGateway, trade: Trade) -> bool:
    """Did the stop order fire (rather than being cancelled by hand before a manual close)?"""
    assert trade.stop_loss_order_id is not None
    try:
        order = await gw.fetch_order(trade.symbol, order_id=trade.stop_loss_order_id, stop=True)
    except ExchangeError:
        return True
    return order is None or order.status in (OrderStatus.TRIGGERED, OrderStatus.CLOSED)


class PendingAges:
    """How long each pending entry has waited, on a clock a wall-clock step cannot move.

    An NTP or operator step of the wall clock must neither cancel an entry placed seconds ago
    nor keep an old one. An entry's age is its recorded (wall-clock) age when this process first
    saw it, which is all a restart can go by, plus the monotonic time since. Entries that are no
    longer pending are forgotten, so the map is never larger than the pending set.
    """

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._seen: dict[tuple[str, int], tuple[float, timedelta]] = {}

    def see(self, trade: Trade, now: datetime) -> None:
        key = (trade.account, trade.id)
        if trade.status is not TradeStatus.PENDING:
            self._seen.pop(key, None)
        elif key not in self._seen:
            waited = now - (trade.created_at or now)
            self._seen[key] = (self._monotonic(), max(waited, timedelta(0)))

    def ages(self, account: str, active: Iterable[Trade], now: datetime) -> dict[int, timedelta]:
        """The age of every pending trade in ``active`` (the account's active trades)."""
        pending = [t for t in active if t.status is TradeStatus.PENDING]
        for t in pending:
            self.see(t, now)
        ids = {t.id for t in pending}
        for key in [k for k in self._seen if k[0] == account and k[1] not in ids]:
            del self._seen[key]
        mono = self._monotonic()
        ages = {}
        for t in pending:
            at, waited = self._seen[(account, t.id)]
            ages[t.id] = waited + timedelta(seconds=max(0.0, mono - at))
        return ages


async def settle_pending(
    gw: ExchangeGateway, account: str, active: Mapping[int, Trade],
    by_key: Mapping[PositionKey, Position], mode: PositionMode, now: datetime,
    pending_timeout: timedelta, ages: PendingAges,
) -> Outcome:
    """Give the orphan rules every pending trade with no position of its own: none at all, or
    one whose key another open trade already holds (it never gets a position of its own)."""
    held = {key_of(t.symbol, t.side, mode): t.id for t in active.values() if t.is_open}
    merged = {t.id: held[k] for t in active.values() if t.status is TradeStatus.PENDING
              and (k := key_of(t.symbol, t.side, mode)) in held}
    orphans = [t for t in active.values() if t.status is TradeStatus.PENDING
               and (t.id in merged or key_of(t.symbol, t.side, mode) not in by_key)]
    return await resolve_orphans(gw, orphans, now, pending_timeout, merged,
                                 ages.ages(account, active.values(), now))


async def cancel_leftovers(
    gw: ExchangeGateway, stops: Mapping[str, Order], recorded: set[str],
    open_now: Sequence[Trade], active: Iterable[Trade], fresh: bool,
) -> Outcome:
    """The bot's orders that no trade records, after an unclean stop or on a fresh record: its
    stops are adopted or cancelled (``cancel_leftover_stops``); on a fresh record its resting
    entry orders are cancelled too, each told to the trader, so none fills later into a
    position the bot never meant to hold without its stop."""
    out = await cancel_leftover_stops(gw, stops, recorded, open_now if fresh else [])
    if not fresh:
        return out
    known = {i for t in active for i in (t.entry_order_id, t.entry_client_order_id) if i}
    try:
        orders = await gw.fetch_open_orders()
    except ExchangeError as e:
        out.errors.append(f"leftover entry orders: {e}")
        return out
    entries = Outcome()
    for o in orders:
        if not is_bot_order(o.client_order_id) or o.id in known or o.client_order_id in known:
            continue
        try:
            await gw.cancel_order(o.symbol, o.id)
        except ExchangeError as e:
            entries.errors.append(f"leftover entry order {o.id}: {e}")
            continue
        side = o.position_side or (Side.LONG if o.side is OrderSide.BUY else Side.SHORT)
        entries.notices.append(PendingCancelled(
            account=gw.account, dedupe_key=f"{gw.account}/leftover/{o.id}",
            trade_id=trade_of(o.client_order_id) or 0, symbol=o.symbol, side=side,
            source=Source.BOT,
            reason=f"positionbot order {o.id} was left resting on the exchange with no trade "
                   "recording it (an earlier record): cancelled"))
        entries.lines.append(f"leftover entry order {o.id} cancelled {o.symbol}")
    return merged([out, entries])


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
