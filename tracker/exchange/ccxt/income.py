"""Funding history and wallet balance over ccxt, as exact decimals from the raw answers.

ccxt parses amounts to floats; Binance's raw strings (``income``, ``walletBalance``...) are
read instead wherever they are there, so a booked payment is the ledger's figure to the digit.
Binance: ``GET /fapi/v1/income?incomeType=FUNDING_FEE`` (weight 30, at most 1000 rows, one week
per request, so callers ask for no more than the last week) and ``GET /fapi/v3/account``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from positionbot.tracker.core.funding import FundingPayment
from positionbot.tracker.core.models import Balance
from positionbot.tracker.exchange.ccxt.dialects import dialect_for
from positionbot.tracker.exchange.ccxt.normalize import (
    Malformed,
    _pick,
    _text,
    _timestamp,
    is_binance,
    optional_decimal,
    to_decimal,
)

FUNDING_PAGE = 1000

Call = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def normalize_funding(raw: Mapping[str, Any], exchange_id: str) -> FundingPayment:
    what = "funding payment"
    binance = is_binance(exchange_id)
    exact = dialect_for(exchange_id).funding_amount(raw)  # Bybit's and OKX's own strings
    amount = exact if exact is not None else to_decimal(_pick(raw, "income", "amount", binance),
                                                        what)
    symbol = _text(raw, "symbol", what)
    return FundingPayment(_text(raw, "id", what), symbol, amount,
                          _timestamp(raw.get("timestamp"), what))


async def fetch_funding(exchange: Any, call: Call, exchange_id: str,
                        since: datetime) -> list[FundingPayment]:
    """Funding payments at or after ``since``, oldest first, in one request of at most
    ``FUNDING_PAGE`` rows; the caller's cursor picks up the rest on its next poll, and keeps
    ``since`` within the week Binance answers for."""
    page = await call("fetch funding history", lambda: exchange.fetch_funding_history(
        None, _ms(since), dialect_for(exchange_id).funding_page or FUNDING_PAGE))
    if not isinstance(page, list):
        raise Malformed(f"funding history: expected a list, got {type(page).__name__}")
    payments = [normalize_funding(raw, exchange_id) for raw in page]
    return sorted(payments, key=lambda p: p.at)


def _binance_balance(info: Mapping[str, Any], coins: Sequence[str]) -> Balance | None:
    assets = info.get("assets")
    if not isinstance(assets, list):
        return None
    by_code = {a.get("asset"): a for a in assets if isinstance(a, Mapping)}
    code = next((c for c in coins if c in by_code), None)
    if code is None:
        return None
    a = by_code[code]
    what = f"balance {code}"
    return Balance(code, to_decimal(a.get("walletBalance"), what),
                   optional_decimal(a.get("availableBalance"), what),
                   optional_decimal(a.get("unrealizedProfit"), what),
                   optional_decimal(a.get("initialMargin"), what))


async def fetch_balance(exchange: Any, call: Call, exchange_id: str,
                        coins: Sequence[str]) -> Balance:
    """The futures wallet in the first of ``coins`` the account holds (USDT unless configured)."""
    raw = await call("fetch balance", lambda: exchange.fetch_balance())
    if not isinstance(raw, Mapping):
        raise Malformed(f"balance: expected a mapping, got {type(raw).__name__}")
    info = raw.get("info")
    if is_binance(exchange_id) and isinstance(info, Mapping):
        balance = _binance_balance(info, coins)
        if balance is not None:
            return balance
    totals = raw.get("total") or {}
    code = next((c for c in coins if c in totals), None)
    if code is None:
        raise Malformed(f"balance: none of {', '.join(coins)} in the account")
    what = f"balance {code}"
    wallet = dialect_for(exchange_id).wallet(raw, code)  # OKX's total is equity, not wallet
    return Balance(code, wallet if wallet is not None else to_decimal(totals[code], what),
                   optional_decimal((raw.get("free") or {}).get(code), what),
                   None, optional_decimal((raw.get("used") or {}).get(code), what))
