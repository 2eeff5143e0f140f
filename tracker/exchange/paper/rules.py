"""Binance's order filters and trigger rules as plain functions, for the paper exchange.

Rejection messages carry Binance's error codes so logs read like a live account's.
"""

from __future__ import annotations

from decimal import Decimal

from positionbot.tracker.core.models import ZERO, Market, OrderSide
from positionbot.tracker.engine.ports import OrderRejectedError


def limit_crossed(side: OrderSide, price: Decimal, mark: Decimal) -> bool:
    """A buy limit fills at or below its price, a sell limit at or above."""
    return mark <= price if side is OrderSide.BUY else mark >= price


def stop_crossed(side: OrderSide, trigger: Decimal, mark: Decimal) -> bool:
    """A sell stop (protecting a long) fires at or below its trigger, a buy stop at or above."""
    return mark <= trigger if side is OrderSide.SELL else mark >= trigger


def check_amount(market: Market, amount: Decimal) -> None:
    if amount <= ZERO or amount % market.amount_step != ZERO:
        raise OrderRejectedError(
            f"-1111 amount {amount} is not a positive multiple of {market.amount_step}")
    if amount < market.min_amount:
        raise OrderRejectedError(f"-4003 amount {amount} is below the minimum {market.min_amount}")


def check_price(market: Market, price: Decimal, what: str = "price") -> None:
    if price <= ZERO or price % market.price_tick != ZERO:
        raise OrderRejectedError(
            f"-1111 {what} {price} is not a positive multiple of {market.price_tick}")


def check_notional(market: Market, amount: Decimal, price: Decimal) -> None:
    """Binance's MIN_NOTIONAL filter; it applies to orders that open or increase a position."""
    if amount * market.contract_size * price < market.min_notional:
        raise OrderRejectedError(
            f"-4164 Order's notional must be no smaller than {market.min_notional}")
