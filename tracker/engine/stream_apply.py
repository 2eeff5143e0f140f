"""Applying a stream's explicit report: the same rules, transaction and stop actions as a cycle.

Only the position keys the stream stated are classified: a key it did not mention keeps its
trade untouched (absence is never a close). A change is priced from the fills the stream
delivered; only a change they cannot explain costs a REST fill look-up. Called by the runner
under the account lock, so a stream report and a cycle never race: whichever applies a change
first records it, and the other finds nothing left to change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from positionbot.tracker.core.accounting import Replay, replay_fills
from positionbot.tracker.core.classify import Change, PositionKey, classify_keyed, key_of
from positionbot.tracker.core.dust import without_dust
from positionbot.tracker.core.fills import FillCursor, advance, cursor_key, for_side, unconsumed
from positionbot.tracker.core.ledger import AppliedChange, PricedChange, apply_changes
from positionbot.tracker.core.models import (
    ZERO,
    ChangeKind,
    Fill,
    Market,
    Order,
    OrderStatus,
    Position,
    PositionMode,
    Side,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.core.stoploss import stop_loss_actions
from positionbot.tracker.core.stream_events import PositionReport, stated_positions
from positionbot.tracker.engine.book import AccountBook
from positionbot.tracker.engine.ports import ExchangeError, ExchangeGateway, RecordStore
from positionbot.tracker.engine.pricing import EPOCH_KEY, price_changes
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.engine.stop_actions import execute_stop_actions

log = logging.getLogger(__name__)

_STOP_DONE = (OrderStatus.TRIGGERED, OrderStatus.CLOSED)
_STOP_GONE = (OrderStatus.TRIGGERED, OrderStatus.CLOSED, OrderStatus.CANCELED,
              OrderStatus.EXPIRED, OrderStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class StreamContext:
    """What applying a report needs from the runner (passed in, so this module never imports it)."""

    store: RecordStore
    gateway: ExchangeGateway
    book: AccountBook
    settings: TrackerSettings
    clock: Callable[[], datetime]
    steps: Callable[[Mapping[str, Market]], Mapping[str, Decimal]]
    stops_failed: Callable[[str], None]


@dataclass(slots=True)
class StreamApplied:
    """What one stream report did."""

    account: str
    changes: list[AppliedChange] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rest_fill_fetches: int = 0
    needs_cycle: str | None = None  # why the report could not be trusted: run a REST cycle


async def apply_stream_report(
    ctx: StreamContext, account: str, reports: Sequence[PositionReport], fills: Sequence[Fill],
    orders: Mapping[str, Order],
) -> StreamApplied:
    """Apply ``reports`` (fresh position reports) priced from ``fills`` (recent stream fills;
    the cursors skip those already consumed), with ``orders`` the recent order states by id."""
    out = StreamApplied(account)
    snap = ctx.book.last_snapshot(account)
    if snap is None:
        out.needs_cycle = "no snapshot yet"
        return out
    markets = await ctx.gateway.markets()
    unknown = sorted({r.symbol for r in reports} - markets.keys())
    if unknown:
        out.needs_cycle = f"unknown symbols on the stream: {', '.join(unknown)}"
        return out
    epoch = await ctx.store.get_fill_cursor(account, EPOCH_KEY)
    if epoch is None:
        out.needs_cycle = "no fill epoch yet"
        return out
    mode = snap.mode
    sizes = {r.symbol: markets[r.symbol].contract_size for r in reports}
    stated = stated_positions(reports, mode, sizes)
    if not stated:
        return out
    current, dust_keys = _updated_positions(ctx, account, stated, markets)
    open_trades = [t for t in ctx.book.active_by_id(account).values()
                   if t.is_open and key_of(t.symbol, t.side, mode) in stated]
    stated_now = {k: current[k] for k in stated if k in current}
    changes = classify_keyed(stated_now, open_trades, mode, ctx.steps(markets))
    priced, cursors = await _price(ctx, account, changes, fills, orders, mode, epoch, out)
    now = ctx.clock()
    outcome = apply_changes(
        [replace(p, dust=p.change.kind is ChangeKind.CLOSED and p.change.key in dust_keys)
         for p in priced], account, ctx.store.new_trade_id, now)
    batch = WriteBatch(account, trades=outcome.trades, events=outcome.events,
                       notices=outcome.notices, fill_cursors=cursors)
    if not batch.is_empty:
        await ctx.store.commit(batch)
    ctx.book.set_snapshot(account, snap, current)
    ctx.book.remember(account, outcome.trades)
    out.changes = outcome.applied
    await _act(ctx, account, set(stated), outcome.trades, orders, current, mode, markets, out)
    return out


def _updated_positions(
    ctx: StreamContext, account: str, stated: Mapping[PositionKey, Position | None],
    markets: Mapping[str, Market],
) -> tuple[dict[PositionKey, Position], set[PositionKey]]:
    """The last snapshot with the stated keys replaced (keeping the last known mark where the
    report gives none)."""
    current = dict(ctx.book.positions_by_key(account))
    dust: set[PositionKey] = set()
    for key, position in stated.items():
        previous = current.pop(key, None)
        if position is None:
            continue
        if position.mark_price is None and previous is not None \
                and previous.mark_price is not None:
            position = replace(position, mark_price=previous.mark_price)
        if without_dust([position], ctx.settings.dust, markets):
            current[key] = position
        else:
            dust.add(key)
    return current, dust


async def _price(
    ctx: StreamContext, account: str, changes: Sequence[Change], fills: Sequence[Fill],
    orders: Mapping[str, Order], mode: PositionMode, epoch: FillCursor, out: StreamApplied,
) -> tuple[list[PricedChange], dict[str, FillCursor]]:
    """Replay each change from the stream's fills; the ones they do not explain fall back to
    the REST fill look-up of a cycle."""
    cursors: dict[str, FillCursor] = {}
    replays: dict[int, Replay | None] = {}
    unexplained: list[int] = []
    for i, c in enumerate(changes):
        side = _side(c)
        key = cursor_key(c.key[0], side, mode)
        cursor = cursors.get(key) or await ctx.store.get_fill_cursor(account, key) or epoch
        mine = for_side(unconsumed((f for f in fills if f.symbol == c.key[0]), cursor), side, mode)
        replay = _replay(c, mine)
        if replay is None:
            unexplained.append(i)
            continue
        replays[i] = replay
        moved = advance(cursor, mine[: replay.consumed])
        if moved is not None and moved != cursor:
            cursors[key] = moved
    if unexplained:
        rest = await price_changes(ctx.gateway, ctx.store, account,
                                   [changes[i] for i in unexplained], mode,
                                   ctx.settings.max_fill_symbols)
        out.rest_fill_fetches += rest.fetches
        out.errors += rest.errors
        for n, i in enumerate(unexplained):
            replays[i] = rest.replays.get(n)
        for key, cursor in rest.cursors.items():
            cursors.setdefault(key, cursor)
    priced = []
    pending = sorted((t for t in ctx.book.active_by_id(account).values()
                      if t.status is TradeStatus.PENDING), key=lambda t: t.id)
    previous = ctx.book.positions_by_key(account)
    for i, c in enumerate(changes):
        match = None
        if c.kind is ChangeKind.OPENED and c.position is not None:
            match = next((t for t in pending if t.symbol == c.position.symbol
                          and t.side is c.position.side), None)
            if match is not None:
                pending.remove(match)
        hit = False
        if c.kind is ChangeKind.CLOSED and c.trade is not None and c.trade.stop_loss_order_id:
            hit = await _stop_fired(ctx.gateway, c.trade, orders)
        last = previous.get(c.key)
        priced.append(PricedChange(c, replays.get(i), last.mark_price if last else None, match, hit))
    return priced, cursors


def _side(c: Change) -> Side:
    if c.trade is not None:
        return c.trade.side
    assert c.position is not None
    return c.position.side


def _replay(c: Change, fills: Sequence[Fill]) -> Replay | None:
    if not fills:
        return None
    t, p = c.trade, c.position
    contract_size = t.contract_size if t is not None else (p.contract_size if p else ZERO)
    return replay_fills(t.side if t else None, t.size if t else ZERO,
                        t.avg_entry_price if t else ZERO, fills, p.side if p else None,
                        p.size if p else ZERO, contract_size)


async def _stop_fired(gw: ExchangeGateway, trade: Trade, orders: Mapping[str, Order]) -> bool:
    """The stream's word on the stop when it gave one, else the exchange's (as a cycle asks)."""
    stop_id = trade.stop_loss_order_id
    assert stop_id is not None
    seen = orders.get(stop_id)
    if seen is not None and seen.status in _STOP_GONE:
        return seen.status in _STOP_DONE
    try:
        order = await gw.fetch_order(trade.symbol, order_id=stop_id, stop=True)
    except ExchangeError:
        return True
    return order is None or order.status in _STOP_DONE


async def _act(
    ctx: StreamContext, account: str, keys: set[PositionKey], changed: Sequence[Trade],
    orders: Mapping[str, Order], current: Mapping[PositionKey, Position], mode: PositionMode,
    markets: Mapping[str, Market], out: StreamApplied,
) -> None:
    """The stop-loss actions of the stated keys' trades, as a cycle takes them. Their live stops
    are those the trades record, less the ones the stream saw leave the book."""
    active = ctx.book.active_by_id(account)
    open_now = [t for t in active.values()
                if t.is_open and key_of(t.symbol, t.side, mode) in keys]
    closed_now = [t for t in changed if t.status is TradeStatus.CLOSED]
    stops = {t.stop_loss_order_id: _recorded_stop(t) for t in [*open_now, *closed_now]
             if t.stop_loss_order_id is not None
             and not (t.stop_loss_order_id in orders
                      and orders[t.stop_loss_order_id].status in _STOP_GONE)}
    marks = {t.id: p.mark_price for t in open_now if t.has_pending_stop
             and (p := current.get(key_of(t.symbol, t.side, mode))) and p.mark_price is not None}
    actions = stop_loss_actions(open_now, closed_now, stops, marks)
    if not actions:
        return
    result = await execute_stop_actions(ctx.gateway, actions, markets, mode is PositionMode.HEDGE,
                                        marks)
    if result.errors:
        ctx.stops_failed(account)
    if result.trades or result.notices:
        await ctx.store.commit(WriteBatch(account, trades=result.trades, notices=result.notices))
        ctx.book.remember(account, result.trades)
    out.actions += result.lines
    out.errors += result.errors


def _recorded_stop(t: Trade) -> Order:
    assert t.stop_loss_order_id is not None
    return Order(t.stop_loss_order_id, t.symbol, t.side.exit_order_side, "stop_market",
                 OrderStatus.OPEN, t.stop_loss_size or t.size, trigger_price=t.stop_loss_price,
                 reduce_only=True, is_stop=True)
