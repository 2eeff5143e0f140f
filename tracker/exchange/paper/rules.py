"""Binance's order filters and trigger rules as plain functions, for the paper exchange.

Rejection messages carry Binance's error codes so logs read like a live account's.
"""

from __future__ import annotations

from decimal import Decimal

from positionbot.tracker.core.models import (
    ZERO,
    Market,
    Order,
    OrderSide,
    OrderStatus,
    PositionMode,
    Side,
)
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


def check_position_side(mode: PositionMode, position_side: Side | None) -> None:
    """Hedge mode wants every order on a named side; one-way mode refuses one."""
    if (position_side is not None) != (mode is PositionMode.HEDGE):
        raise OrderRejectedError(
            f"-4061 Order's position side does not match the account's {mode} mode")


def check_client_id(existing: Order | None, client_order_id: str | None) -> None:
    """Binance refuses a client id reused while its first order is still open."""
    if client_order_id is not None and existing is not None \
            and existing.status is OrderStatus.OPEN:
        raise OrderRejectedError(f"-4015 Duplicate client order id {client_order_id}")


def is_closing(side: OrderSide, reduce_only: bool, position_side: Side | None) -> bool:
    """Reduce-only orders close; in hedge mode so does every order on a side's exit side."""
    return reduce_only or (position_side is not None and side is position_side.exit_order_side)
