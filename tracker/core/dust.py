"""Dust filtering: positions too small to be worth tracking are ignored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from positionbot.tracker.core.models import Market, Position


@dataclass(frozen=True, slots=True)
class DustPolicy:
    """Notional thresholds in the quote currency: per symbol, else per base asset, else default."""

    default: Decimal = Decimal("1")
    assets: Mapping[str, Decimal] = field(default_factory=dict)
    symbols: Mapping[str, Decimal] = field(default_factory=dict)

    def threshold(self, symbol: str, base: str) -> Decimal:
        if symbol in self.symbols:
            return self.symbols[symbol]
        if base in self.assets:
            return self.assets[base]
        return self.default


def base_of(symbol: str) -> str:
    return symbol.split("/", 1)[0]


def without_dust(
    positions: Iterable[Position], policy: DustPolicy, markets: Mapping[str, Market],
    thresholds: dict[str, Decimal] | None = None,
) -> list[Position]:
    """Drop zero sizes and positions whose notional is below the dust threshold.

    ``thresholds`` memoises each symbol's threshold across cycles; the caller owns it and
    must drop it when the policy or the markets change.
    """
    memo = thresholds if thresholds is not None else {}
    kept = []
    for p in positions:
        if p.size <= 0:
            continue
        threshold = memo.get(p.symbol)
        if threshold is None:
            market = markets.get(p.symbol)
            base = market.base if market is not None else base_of(p.symbol)
            threshold = memo[p.symbol] = policy.threshold(p.symbol, base)
        price = p.mark_price if p.mark_price is not None else p.entry_price
        if p.size * p.contract_size * price < threshold:
            continue
        kept.append(p)
    return kept
