"""Reading an account's positions: above dust, keyed once, and verified narrowly.

A gateway hands back the very same positions tuple when nothing changed, so an unchanged
snapshot is keyed once; a suspected close is verified by fetching only its symbols where the
gateway can list a few symbols.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from positionbot.tracker.core.classify import Change, PositionKey, key_of, positions_by_key
from positionbot.tracker.core.dust import DustPolicy, without_dust
from positionbot.tracker.core.models import (
    ChangeKind,
    Market,
    Position,
    PositionMode,
    PositionSnapshot,
)
from positionbot.tracker.engine.ports import ExchangeGateway, PositionsBySymbol

Keyed = tuple[dict[PositionKey, Position], set[PositionKey]]

VERIFY_SYMBOLS_MAX = 3
"""Suspected closes on at most this many symbols are verified by fetching those symbols only
(where the gateway can); more, or positions vanishing wholesale, fetch the whole list again."""


class SnapshotReader:
    """Fetches and keys snapshots; remembers the last keying per account and dust thresholds."""

    def __init__(self, dust: DustPolicy) -> None:
        self._dust = dust
        self._dust_thresholds: dict[str, Decimal] = {}
        self._markets_seen: Mapping[str, Market] | None = None
        self._keyed: dict[str, tuple[tuple[Position, ...], PositionMode, Keyed]] = {}

    async def fetch(self, account: str, gw: ExchangeGateway, markets: Mapping[str, Market]
                     ) -> tuple[PositionSnapshot, dict[PositionKey, Position], set[PositionKey]]:
        """The snapshot, its positions above dust keyed once, and the keys held only as dust."""
        snap = await gw.fetch_positions()
        if markets is not self._markets_seen:
            self._markets_seen = markets
            self._dust_thresholds = {}
            self._keyed.clear()
        cached = self._keyed.get(account)
        if cached is not None and cached[0] is snap.positions and cached[1] is snap.mode:
            return snap, *cached[2]
        kept = positions_by_key(
            without_dust(snap.positions, self._dust, markets, self._dust_thresholds),
            snap.mode)
        dust: set[PositionKey] = set()
        if len(kept) < len(snap.positions):
            dust = {key_of(p.symbol, p.side, snap.mode) for p in snap.positions if p.size > 0}
            dust -= kept.keys()
        self._keyed[account] = (snap.positions, snap.mode, (kept, dust))
        return snap, kept, dust

    async def refetch(self, account: str, gw: ExchangeGateway, markets: Mapping[str, Market],
                       snap: PositionSnapshot, by_key: dict[PositionKey, Position],
                       dust_keys: set[PositionKey], changes: Sequence[Change]
                       ) -> tuple[PositionSnapshot, dict[PositionKey, Position], set[PositionKey]]:
        """The verifying snapshot: only the symbols of the suspected closes and flips where the
        gateway can list a few symbols, merged into the first snapshot; else everything again."""
        symbols = sorted({c.key[0] for c in changes
                          if c.kind in (ChangeKind.CLOSED, ChangeKind.FLIPPED)})
        if (not by_key or not symbols or len(symbols) > VERIFY_SYMBOLS_MAX
                or not isinstance(gw, PositionsBySymbol)):
            return await self.fetch(account, gw, markets)
        part = await gw.fetch_positions_of(symbols)
        if part.mode is not snap.mode:
            return await self.fetch(account, gw, markets)
        wanted = set(symbols)
        kept = {k: p for k, p in by_key.items() if k[0] not in wanted}
        fresh = positions_by_key(
            without_dust(part.positions, self._dust, markets, self._dust_thresholds),
            part.mode)
        kept.update(fresh)
        dust = {k for k in dust_keys if k[0] not in wanted}
        dust |= {key_of(p.symbol, p.side, part.mode) for p in part.positions if p.size > 0}
        dust -= fresh.keys()
        return replace(snap, positions=tuple(kept.values()), fetched_at=part.fetched_at), kept, dust
