"""Pricing changes from the account's fills: the one place the cycle asks for fills."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from positionbot.tracker.core.accounting import Replay, replay_fills
from positionbot.tracker.core.classify import Change
from positionbot.tracker.core.fills import FillCursor, advance, cursor_key, for_side, unconsumed
from positionbot.tracker.core.models import ZERO, Fill, PositionMode, Side
from positionbot.tracker.engine.ports import ExchangeError, ExchangeGateway

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
    exchange's entry price without fills, their history predating the bot. At most
    ``max_symbols`` symbols are fetched per cycle so a burst of changes cannot turn one cycle
    into thousands of requests.
    """
    result = PricingResult()
    epoch = await cursors.get_fill_cursor(account, EPOCH_KEY) if changes else None
    by_symbol: dict[str, list[int]] = {}
    for i, c in enumerate(changes):
        if epoch is None:
            result.replays[i] = None
            continue
        by_symbol.setdefault(c.key[0], []).append(i)
    symbols = list(by_symbol.items())
    for _, indexes in symbols[max_symbols:]:
        for i in indexes:
            result.replays[i] = None
    if epoch is None or not symbols:
        return result
    limit = asyncio.Semaphore(FILL_CONCURRENCY)

    async def price(symbol: str, indexes: list[int], part: PricingResult) -> None:
        assert epoch is not None
        async with limit:
            await _price_symbol(gateway, cursors, account, symbol,
                                [changes[i] for i in indexes], indexes, mode, epoch, part)

    parts = [PricingResult() for _ in symbols[:max_symbols]]
    async with asyncio.TaskGroup() as group:
        for (symbol, indexes), part in zip(symbols, parts, strict=False):
            group.create_task(price(symbol, indexes, part))
    for part in parts:  # merged in symbol order, whatever order the answers came in
        result.replays.update(part.replays)
        result.fills.update(part.fills)
        result.cursors.update(part.cursors)
        result.fetches += part.fetches
        result.errors += part.errors
    return result


async def _price_symbol(
    gateway: ExchangeGateway, cursors: CursorSource, account: str, symbol: str,
    changes: Sequence[Change], indexes: Sequence[int], mode: PositionMode,
    epoch: FillCursor, result: PricingResult,
) -> None:
    keys = {i: cursor_key(symbol, _side(c), mode) for i, c in zip(indexes, changes, strict=True)}
    loaded = {k: await cursors.get_fill_cursor(account, k) or epoch for k in set(keys.values())}
    since = min(cur.at for cur in loaded.values())
    try:
        result.fetches += 1
        fills = await gateway.fetch_fills(symbol, since)
    except ExchangeError as e:
        log.warning("fills for %s unavailable, estimating: %s", symbol, e)
        result.errors.append(f"fills {symbol}: {e}")
        for i in indexes:
            result.replays[i] = None
        return
    for i, c in zip(indexes, changes, strict=True):
        key = keys[i]
        side = _side(c)
        mine = for_side(unconsumed(fills, loaded[key]), side, mode)
        replay = _replay(c, mine)
        result.replays[i] = replay
        consumed: Sequence[Fill] = mine[: replay.consumed] if replay else mine
        if replay:
            result.fills[i] = tuple(consumed)
        new_cursor = advance(loaded[key], consumed)
        if new_cursor is not None and new_cursor != loaded[key]:
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
