"""Which requests cover a whole account on exchanges that scope listings by settle coin.

Bybit and Bitget answer ``fetch_positions()`` and ``fetch_open_orders()`` for one settle coin at a
time (USDT by default), so positions settled in USDC or in coins are silently missing unless
every settle coin is swept. Everywhere else one request without parameters covers the account.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from positionbot.tracker.core.models import Market

_BITGET_LINEAR_PRODUCTS = {"USDT": "USDT-FUTURES", "USDC": "USDC-FUTURES"}


def _settle_coins(markets: Iterable[Market]) -> tuple[list[str], list[str]]:
    """Settle coins of linear markets and of inverse markets, each sorted."""
    linear: set[str] = set()
    inverse: set[str] = set()
    for market in markets:
        (inverse if market.settle == market.base != market.quote else linear).add(market.settle)
    return sorted(linear), sorted(inverse - linear)


def listing_scopes(exchange_id: str, markets: Iterable[Market],
                   settle_coins: Sequence[str] | None) -> list[dict[str, Any]]:
    """ccxt params for each listing request that together cover the account."""
    if exchange_id not in ("bybit", "bitget"):
        return [{}]
    linear, inverse = _settle_coins(markets)
    if settle_coins is not None:
        wanted = [coin.upper() for coin in settle_coins]
        inverse = [coin for coin in wanted if coin in inverse]
        linear = [coin for coin in wanted if coin not in inverse]
    if exchange_id == "bybit":
        scopes: list[dict[str, Any]] = [{"subType": "linear", "settleCoin": coin} for coin in linear]
        if inverse:
            scopes.append({"subType": "inverse"})
        return scopes or [{}]
    scopes = [
        {"productType": _BITGET_LINEAR_PRODUCTS.get(coin, f"{coin}-FUTURES"), "marginCoin": coin}
        for coin in linear
    ]
    scopes.extend({"productType": "COIN-FUTURES", "marginCoin": coin} for coin in inverse)
    return scopes or [{}]
