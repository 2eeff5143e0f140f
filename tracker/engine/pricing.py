"""Pricing changes from the account's fills: the one place the cycle asks for fills."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from positionbot.tracker.core.accounting import Replay, replay_fills
from positionbot.tracker.core.classify import Change
from positionbot.tracker.core.fills import FillCursor, advance, cursor_key, for_side, unconsumed
from positionbot.tracker.core.models import ZERO, Fill, PositionMode, Side
from positionbot.tracker.engine.ports import (
    ExchangeError,
    ExchangeGateway,
    FillListing,
    FillsAcrossSymbols,
)

log = logging.getLogger(__name__)

FILL_CONCURRENCY = 8
"""Symbols whose fills are fetched at once: a burst of changes costs a few round trips, not
one per symbol (ccxt's limiter still paces the requests within the exchange's weights)."""

EPOCH_KEY = "*"
"""The account's fill epoch: written by the first successful sync, it anchors every position
key that has no cursor of its own, so every fill after it is accounted for exactly once."""


class CursorSource(Protocol):
    """Where cursors come from: the store."""

    async def get_fill_cursor(self, account: str, symbol: str) -> FillCursor | None: ...


@dataclass(slots=True)
class PricingResult:
    replays: dict[int, Replay | None] = field(default_factory=dict)  # by change index
    fills: dict[int, tuple[Fill, ...]] = field(default_factory=dict)  # what each replay consumed
    cursors: dict[str, FillCursor] = field(default_factory=dict)
    fetches: int = 0
    errors: list[str] = field(default_factory=list)


async def price_changes(
    gateway: ExchangeGateway,
    cursors: CursorSource,
    account: str,
    changes: Sequence[Change],
    mode: PositionMode,
    max_symbols: int,
) -> PricingResult:
    """Replay each change's fills; a change whose fills cannot be had stays unpriced (estimated).

    Before the first successful sync there is no epoch: positions are adopted at the
    exchange's entry price without fills, their history predating the bot. Where the gateway
    lists fills across symbols (Bybit, OKX), one listing serves every symbol it covers; the
    rest are fetched per symbol, at most ``max_symbols`` per cycle so a burst of changes cannot
    turn one cycle into thousands of requests.
    """
    result = PricingResult()
    epoch = await cursors.get_fill_cursor(account, EPOCH_KEY) if changes else None
    by_symbol: dict[str, list[int]] = {}
    for i, c in enumerate(changes):
        if epoch is None:
            result.replays[i] = None
            continue
        by_symbol.setdefault(c.key[0], []).append(i)
    if epoch is None or not by_symbol:
        return result
    symbols = list(by_symbol.items())
    if not isinstance(gateway, FillsAcrossSymbols):  # no listing: only these can be fetched
        for _, indexes in symbols[max_symbols:]:
            for i in indexes:
                result.replays[i] = None
        symbols = symbols[:max_symbols]
    plans = [await _plan(cursors, account, symbol, indexes, changes, mode, epoch)
             for symbol, indexes in symbols]
    listing = await _listing(gateway, plans, result)
    work: list[tuple[_Plan, list[Fill] | None, PricingResult]] = []
    fetched = 0
    for plan in plans:
        listed = listing.fills.get(plan.symbol) if listing is not None else None
        if listing is not None and listed is not None and plan.since >= listing.complete_from:
            work.append((plan, [f for f in listed if f.timestamp >= plan.since], PricingResult()))
        elif fetched < max_symbols:
            fetched += 1
            work.append((plan, None, PricingResult()))
        else:
            for i in plan.indexes:
                result.replays[i] = None
    limit = asyncio.Semaphore(FILL_CONCURRENCY)

    async def price(plan: _Plan, fills: list[Fill] | None, part: PricingResult) -> None:
        if fills is None:
            async with limit:
                fills = await _fetch(gateway, plan, part)
        if fills is not None:
            _replay_symbol(plan, fills, changes, mode, part)

    async with asyncio.TaskGroup() as group:
        for plan, fills, part in work:
            group.create_task(price(plan, fills, part))
    for _, _, part in work:  # merged in symbol order, whatever order the answers came in
        result.replays.update(part.replays)
        result.fills.update(part.fills)
        result.cursors.update(part.cursors)
        result.fetches += part.fetches
        result.errors += part.errors
    return result


@dataclass(frozen=True, slots=True)
class _Plan:
    """One symbol's changes, the cursor key of each and the cursors as loaded."""

    symbol: str
    indexes: list[int]
    keys: dict[int, str]
    loaded: dict[str, FillCursor]

    @property
    def since(self) -> datetime:
        return min(cur.at for cur in self.loaded.values())


async def _plan(cursors: CursorSource, account: str, symbol: str, indexes: list[int],
                changes: Sequence[Change], mode: PositionMode, epoch: FillCursor) -> _Plan:
    keys = {i: cursor_key(symbol, _side(changes[i]), mode) for i in indexes}
    loaded = {k: await cursors.get_fill_cursor(account, k) or epoch for k in set(keys.values())}
    return _Plan(symbol, indexes, keys, loaded)


async def _listing(gateway: ExchangeGateway, plans: Sequence[_Plan],
                   result: PricingResult) -> FillListing | None:
    """One listing for several symbols, where the gateway has one; its failure costs only
    the per-symbol requests it would have saved."""
    if len(plans) < 2 or not isinstance(gateway, FillsAcrossSymbols):
        return None
    try:
        listing = await gateway.fetch_fills_listing([p.symbol for p in plans],
                                                    min(p.since for p in plans))
    except ExchangeError as e:
        log.warning("fills listing unavailable, asking per symbol: %s", e)
        return None
    result.fetches += listing is not None
    return listing


async def _fetch(gateway: ExchangeGateway, plan: _Plan, result: PricingResult) -> list[Fill] | None:
    try:
        result.fetches += 1
        return await gateway.fetch_fills(plan.symbol, plan.since)
    except ExchangeError as e:
        log.warning("fills for %s unavailable, estimating: %s", plan.symbol, e)
        result.errors.append(f"fills {plan.symbol}: {e}")
        for i in plan.indexes:
            result.replays[i] = None
        return None


def _replay_symbol(plan: _Plan, fills: Sequence[Fill], changes: Sequence[Change],
                   mode: PositionMode, result: PricingResult) -> None:
    for i in plan.indexes:
        c = changes[i]
        key = plan.keys[i]
        mine = for_side(unconsumed(fills, plan.loaded[key]), _side(c), mode)
        replay = _replay(c, mine)
        result.replays[i] = replay
        consumed: Sequence[Fill] = mine[: replay.consumed] if replay else mine
        if replay:
            result.fills[i] = tuple(consumed)
        new_cursor = advance(plan.loaded[key], consumed)
        if new_cursor is not None and new_cursor != plan.loaded[key]:
            result.cursors[key] = new_cursor


def _side(c: Change) -> Side:
    if c.trade is not None:
        return c.trade.side
    assert c.position is not None
    return c.position.side


def _replay(c: Change, fills: Sequence[Fill]) -> Replay | None:
    t, p = c.trade, c.position
    contract_size = t.contract_size if t is not None else (p.contract_size if p else ZERO)
    return replay_fills(
        t.side if t else None, t.size if t else ZERO, t.avg_entry_price if t else ZERO,
        fills, p.side if p else None, p.size if p else ZERO, contract_size,
    )
