"""Short symbol forms a trader types on a phone (``BTC``, ``btcusdt``, ``BTC/USDT``) resolved to
ccxt unified symbols (``BTC/USDT:USDT``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from positionbot.tracker.core.dust import base_of as base_of
from positionbot.tracker.core.models import Trade


def short_name(trade: Trade) -> str:
    """Button-sized label: base asset and side, enough to tell hedge legs apart."""
    return f"{base_of(trade.symbol)} {trade.side.value}"


def _forms(symbol: str) -> set[str]:
    """Every way a trader may write ``symbol``, upper-cased."""
    unified = symbol.upper()
    spot_form = unified.split(":", 1)[0]
    base, _, quote = spot_form.partition("/")
    return {unified, spot_form, base, base + quote, f"{base}-{quote}"}


def symbol_matches(query: str, symbol: str) -> bool:
    return query.strip().upper() in _forms(symbol)


def matching_trades(query: str, trades: Sequence[Trade]) -> list[Trade]:
    """Trades whose symbol the query names; an exact unified symbol beats a short form."""
    wanted = query.strip().upper()
    exact = [t for t in trades if t.symbol.upper() == wanted]
    return exact or [t for t in trades if symbol_matches(query, t.symbol)]


def matching_symbols(query: str, symbols: Iterable[str]) -> list[str]:
    """Market symbols the query names, sorted, for "no position on X" versus "unknown X"."""
    return sorted(s for s in symbols if symbol_matches(query, s))
