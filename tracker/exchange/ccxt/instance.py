"""One ccxt instance per account, built once and kept: its rate limiter lives in it.

The defaults bound every call, skip what the bot never needs (currencies), and take the
exchange's dialect defaults; the operator's ``ccxt_config`` is merged over them verbatim.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt

from positionbot.tracker.exchange.ccxt.dialect_base import Dialect
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy


def respect_timeout(retry: RetryPolicy, ccxt_config: Mapping[str, Any]) -> RetryPolicy:
    """A ``ccxt_config.timeout`` (ms) longer than the policy's per-call limit raises that limit:
    the limit exists to bound a call, not to cut short one the operator allowed longer."""
    configured = ccxt_config.get("timeout")
    if isinstance(configured, int | float) and not isinstance(configured, bool) \
            and configured / 1000 > retry.call_timeout:
        return dataclasses.replace(retry, call_timeout=configured / 1000)
    return retry


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_exchange(
    account: str, exchange_id: str, retry: RetryPolicy, dialect: Dialect, *,
    api_key: str | None, secret: str | None, password: str | None, sandbox: bool,
    ccxt_config: Mapping[str, Any] | None,
) -> Any:
    """The account's ccxt instance; refuses an exchange that cannot list positions."""
    if exchange_id not in ccxt.exchanges:
        raise ValueError(f"account {account!r}: ccxt does not know the exchange {exchange_id!r}")
    defaults: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": int(retry.call_timeout * 1000),
        # Open orders are fetched without a symbol on purpose; currencies are not needed
        # and on Binance cost two spot-wallet requests (and permissions) per market load.
        "options": {"warnOnFetchOpenOrdersWithoutSymbol": False, "fetchCurrencies": False},
    }
    credentials = {"apiKey": api_key, "secret": secret, "password": password}
    defaults.update({key: value for key, value in credentials.items() if value})
    defaults = deep_merge(defaults, dialect.ccxt_defaults)
    exchange = getattr(ccxt, exchange_id)(deep_merge(defaults, ccxt_config or {}))
    if not exchange.has.get("fetchPositions"):
        raise ValueError(
            f"account {account!r}: ccxt cannot list positions on {exchange_id!r} "
            "(no fetchPositions), so it cannot be tracked")
    if sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported as exc:
            raise ValueError(f"account {account!r}: {exchange_id!r} has no sandbox") from exc
    return exchange
