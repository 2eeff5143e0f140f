"""Binance USDⓈ-M futures' JSON shapes for the paper venue's objects, and request parsing.

Figures are written with every digit the venue holds (``format(d, "f")``), so a test can check
that the gateway reads back exactly the venue's decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from positionbot.tracker.core.models import ZERO, Fill, Market, Order, OrderSide, OrderStatus, Position, Side

PERPETUAL_DELIVERY = 4133404800000  # Binance's "no delivery" date for perpetuals


class BinanceApiError(Exception):
    """An error answered as Binance does: ``{"code": ..., "msg": ...}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def num(value: Decimal | None) -> str:
    return "0" if value is None else format(value, "f")


def millis(order_or_fill: Order | Fill) -> int:
    stamp = order_or_fill.timestamp
    return 0 if stamp is None else int(stamp.timestamp() * 1000)


def market_id(market: Market) -> str:
    return f"{market.base}{market.quote}"


def _decimals(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def exchange_info_symbol(market: Market) -> dict[str, Any]:
    return {
        "symbol": market_id(market), "pair": market_id(market), "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY, "onboardDate": 1569398400000, "status": "TRADING",
        "baseAsset": market.base, "quoteAsset": market.quote, "marginAsset": market.settle,
        "pricePrecision": _decimals(market.price_tick),
        "quantityPrecision": _decimals(market.amount_step),
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": num(market.price_tick),
             "maxPrice": "4529764", "tickSize": num(market.price_tick)},
            {"filterType": "LOT_SIZE", "stepSize": num(market.amount_step),
             "minQty": num(max(market.min_amount, market.amount_step)), "maxQty": "1000000"},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": num(market.amount_step),
             "minQty": num(max(market.min_amount, market.amount_step)), "maxQty": "1000000"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": num(market.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
             "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
    }


def position_side_text(side: Side | None) -> str:
    return "BOTH" if side is None else side.value.upper()


def position_risk(position: Position, symbol_id: str, *, hedge: bool, leverage: int, settle: str,
                  liquidation: Decimal | None, updated: int) -> dict[str, Any]:
    """A v3 ``positionRisk`` entry (v3 has no leverage or margin type; margins imply them)."""
    signed = position.size if position.side is Side.LONG else -position.size
    mark = position.mark_price if position.mark_price is not None else position.entry_price
    notional = signed * position.contract_size * mark
    margin = (abs(notional) / leverage).quantize(Decimal("0.00000001"))
    return {
        "symbol": symbol_id,
        "positionSide": position.side.value.upper() if hedge else "BOTH",
        "positionAmt": num(signed), "entryPrice": num(position.entry_price),
        "breakEvenPrice": num(position.entry_price), "markPrice": num(mark),
        "unRealizedProfit": num(position.unrealized_pnl or ZERO),
        "liquidationPrice": num(liquidation), "isolatedMargin": "0", "notional": num(notional),
        "marginAsset": settle, "isolatedWallet": "0", "initialMargin": num(margin),
        "maintMargin": num((abs(notional) * Decimal("0.004")).quantize(Decimal("0.00000001"))),
        "positionInitialMargin": num(margin), "openOrderInitialMargin": "0", "adl": 1,
        "bidNotional": "0", "askNotional": "0", "updateTime": updated,
    }


_ORDER_STATUS = {
    OrderStatus.CLOSED: "FILLED", OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED", OrderStatus.REJECTED: "REJECTED",
}


def order_json(order: Order, symbol_id: str, avg_price: Decimal | None) -> dict[str, Any]:
    """An ordinary order as ``/fapi/v1/order`` and ``/fapi/v1/openOrders`` show it."""
    if order.status is OrderStatus.OPEN:
        status = "PARTIALLY_FILLED" if order.filled > ZERO else "NEW"
    else:
        status = _ORDER_STATUS.get(order.status, "EXPIRED")
    kind = order.type.upper()
    quote = (avg_price or ZERO) * order.filled
    return {
        "orderId": int(order.id), "symbol": symbol_id, "status": status,
        "clientOrderId": order.client_order_id or f"web_{order.id}",
        "price": num(order.price), "avgPrice": num(avg_price), "origQty": num(order.amount),
        "executedQty": num(order.filled), "cumQty": num(order.filled), "cumQuote": num(quote),
        "timeInForce": "GTC", "type": kind, "origType": kind, "reduceOnly": order.reduce_only,
        "closePosition": False, "side": order.side.value.upper(),
        "positionSide": position_side_text(order.position_side), "stopPrice": "0",
        "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
        "time": millis(order), "updateTime": millis(order),
    }


def algo_status(order: Order, child: Order | None) -> str:
    """Binance Algo statuses: a fired stop is TRIGGERED until its order finishes, then FINISHED."""
    if order.status is OrderStatus.OPEN:
        return "NEW"
    if order.status is OrderStatus.TRIGGERED:
        return "TRIGGERED" if child is not None and child.status is OrderStatus.OPEN else "FINISHED"
    return _ORDER_STATUS.get(order.status, "EXPIRED")


def algo_order_json(order: Order, symbol_id: str, child: Order | None, working_type: str,
                    avg_price: Decimal | None) -> dict[str, Any]:
    """A conditional order as the Algo service (``/fapi/v1/algoOrder``) shows it."""
    return {
        "algoId": int(order.id), "clientAlgoId": order.client_order_id or f"web_{order.id}",
        "algoType": "CONDITIONAL", "orderType": order.type.upper(), "symbol": symbol_id,
        "side": order.side.value.upper(), "positionSide": position_side_text(order.position_side),
        "timeInForce": "GTC", "quantity": num(order.amount),
        "algoStatus": algo_status(order, child),
        "actualOrderId": order.triggered_order_id or "",
        "actualPrice": num(avg_price), "triggerPrice": num(order.trigger_price),
        "price": "0", "icebergQuantity": None, "tpTriggerPrice": "0", "tpPrice": "0",
        "slTriggerPrice": "0", "slPrice": "0", "tpOrderType": "",
        "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": working_type,
        "priceMatch": "NONE", "closePosition": False, "priceProtect": False,
        "reduceOnly": order.reduce_only and order.position_side is None,
        "createTime": millis(order), "updateTime": millis(order),
        "triggerTime": millis(child) if child is not None else 0, "goodTillDate": 0,
    }


def trade_json(fill: Fill, symbol_id: str, settle: str, realized: Decimal,
               maker: bool) -> dict[str, Any]:
    """One ``/fapi/v1/userTrades`` entry; commission is the fee paid, in the settle asset."""
    return {
        "symbol": symbol_id, "id": int(fill.id), "orderId": int(fill.order_id),
        "side": fill.side.value.upper(), "price": num(fill.price), "qty": num(fill.amount),
        "realizedPnl": num(realized), "quoteQty": num(fill.price * fill.amount),
        "commission": num(fill.fee), "commissionAsset": settle,
        "time": int(fill.timestamp.timestamp() * 1000),
        "positionSide": position_side_text(fill.position_side),
        "buyer": fill.side is OrderSide.BUY, "maker": maker,
    }


@dataclass(frozen=True)
class Params:
    """A request's parameters (query and form body merged), read the way Binance validates."""

    values: Mapping[str, str]

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if value is None or value == "":
            raise BinanceApiError(-1102, f"Mandatory parameter '{key}' was not sent, was empty/"
                                         "null, or malformed.")
        return value

    def optional(self, key: str) -> str | None:
        value = self.values.get(key)
        return None if value in (None, "") else value

    def decimal(self, key: str) -> Decimal:
        try:
            value = Decimal(self.text(key))
        except InvalidOperation as exc:
            raise BinanceApiError(-1100, f"Illegal characters found in parameter '{key}'; "
                                         f"legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
                                  ) from exc
        if not value.is_finite():
            raise BinanceApiError(-1100, f"Illegal characters found in parameter '{key}'.")
        return value

    def flag(self, key: str) -> bool:
        value = self.optional(key)
        if value not in (None, "true", "false"):
            raise BinanceApiError(-1104, f"Illegal value for parameter '{key}'.")
        return value == "true"

    def integer(self, key: str) -> int | None:
        value = self.optional(key)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise BinanceApiError(-1100, f"Illegal characters found in parameter '{key}'.") \
                from exc
