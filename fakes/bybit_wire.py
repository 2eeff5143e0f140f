"""Bybit v5's JSON shapes (linear contracts, unified trading account) for the paper venue's
objects: the ``{"retCode", "retMsg", "result", "retExtInfo", "time"}`` envelope, instruments,
positions, orders and executions, as documented at bybit-exchange.github.io/docs/v5.

Figures carry every digit the venue holds, so a test can check the gateway reads them exactly.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from positionbot.fakes.wire_server import WireError, num
from positionbot.tracker.core.models import (
    ZERO,
    Balance,
    Fill,
    Market,
    Order,
    OrderSide,
    OrderStatus,
    Position,
    Side,
)

LINEAR_SETTLE_COINS = ("USDT", "USDC")
# Bybit's codes (docs: v5/error); ccxt 4.5.90 maps them as noted.
PARAMS_ERROR = 10001  # BadRequest
INVALID_KEY = 10003  # AuthenticationError
RATE_LIMITED = 10006  # RateLimitExceeded, sent with HTTP 200
SYSTEM_ERROR = 10016  # ccxt: plain ExchangeError, although it is Bybit's "try again later"
ORDER_NOT_FOUND = 110001  # OrderNotFound
REDUCE_ONLY_REFUSED = 110017  # InvalidOrder
DUPLICATE_LINK_ID = 110072  # InvalidOrder
EXPECT_RISING = 110092  # InvalidOrder: a buy stop at or below the price
EXPECT_FALLING = 110093  # InvalidOrder: a sell stop at or above the price


def now_ms() -> int:
    return int(time.time() * 1000)


def envelope(result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms()}


def error(code: int, msg: str) -> WireError:
    return WireError(envelope({}, code, msg))


def rate_limit_body() -> dict[str, Any]:
    return envelope({}, RATE_LIMITED, "Too many visits!")


def system_error_body() -> dict[str, Any]:
    return envelope({}, SYSTEM_ERROR, "Internal system error.")


def market_id(market: Market) -> str:
    """BTCUSDT for USDT contracts; Bybit names its USDC perpetuals BTCPERP."""
    return f"{market.base}PERP" if market.settle == "USDC" else f"{market.base}{market.quote}"


def instrument(market: Market) -> dict[str, Any]:
    return {
        "symbol": market_id(market), "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": market.base, "quoteCoin": market.quote, "launchTime": "1585526400000",
        "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": num(market.price_tick), "maxPrice": "1999999.80",
                        "tickSize": num(market.price_tick)},
        "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": num(
            max(market.min_amount, market.amount_step)), "qtyStep": num(market.amount_step),
            "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "500.000",
            "minNotionalValue": num(market.min_notional)},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": market.settle,
        "copyTrading": "both", "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375",
        "isPreListing": False, "preListingInfo": None,
    }


def inverse_instrument(base: str) -> dict[str, Any]:
    """An inverse perpetual (``BTCUSD``, settled in the coin): listed, as on Bybit, though the
    fake trades none, so the gateway's settle-coin sweep meets what a real account meets."""
    market = Market(symbol=f"{base}/USD:{base}", base=base, quote="USD", settle=base,
                    amount_step=Decimal(1), price_tick=Decimal("0.5"), min_amount=Decimal(1))
    row = instrument(market)
    row.update(symbol=f"{base}USD", contractType="InversePerpetual", settleCoin=base)
    row["lotSizeFilter"].pop("minNotionalValue")
    return row


def position_idx(side: Side | None) -> int:
    """0 in one-way mode; 1 the buy side (long leg) and 2 the sell side in hedge mode."""
    return 0 if side is None else (1 if side is Side.LONG else 2)


def position_json(symbol_id: str, idx: int, position: Position | None, *, leverage: int,
                  liquidation: Decimal | None, seq: int) -> dict[str, Any]:
    """One ``/v5/position/list`` entry; ``position`` None is an empty leg (size "0")."""
    size = position.size if position else ZERO
    mark = (position.mark_price or position.entry_price) if position else None
    value = size * position.contract_size * (position.entry_price) if position else ZERO
    side = "" if position is None else ("Buy" if position.side is Side.LONG else "Sell")
    return {
        "positionIdx": idx, "riskId": 1, "riskLimitValue": "2000000", "symbol": symbol_id,
        "side": side, "size": num(size), "avgPrice": num(position.entry_price if position else ZERO),
        "positionValue": num(value), "tradeMode": 0, "autoAddMargin": 0,
        "positionStatus": "Normal", "leverage": str(leverage), "markPrice": num(mark),
        "liqPrice": num(liquidation), "bustPrice": "", "positionIM": num(value / leverage),
        "positionMM": "0", "positionBalance": "0", "tpslMode": "Full", "takeProfit": "0",
        "stopLoss": "0", "trailingStop": "0", "sessionAvgPrice": "",
        "unrealisedPnl": num(position.unrealized_pnl if position else ZERO),
        "curRealisedPnl": "0", "cumRealisedPnl": "0", "adlRankIndicator": 2,
        "createdTime": "1676538056258", "updatedTime": str(now_ms()), "seq": seq,
        "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
    }


def order_status(order: Order, child: Order | None) -> str:
    """Bybit's statuses; a fired conditional order keeps its id: Triggered, then Filled."""
    if order.is_stop:
        if order.status is OrderStatus.OPEN:
            return "Untriggered"
        if order.status is OrderStatus.TRIGGERED and child is not None:
            return "Triggered" if child.status is OrderStatus.OPEN else "Filled"
        return "Deactivated"
    if order.status is OrderStatus.OPEN:
        return "PartiallyFilled" if order.filled > ZERO else "New"
    if order.status is OrderStatus.CLOSED:
        return "Filled"
    return "PartiallyFilledCanceled" if order.filled > ZERO else "Cancelled"


def order_json(order: Order, symbol_id: str, child: Order | None, avg: Decimal | None,
               trigger_direction: int, trigger_by: str) -> dict[str, Any]:
    """One ``/v5/order/realtime`` entry; a conditional order shows its fired order's fills."""
    filled = child.filled if child is not None else (ZERO if order.is_stop else order.filled)
    stamp = str(_ms(order))
    return {
        "orderId": _uuid(order.id), "orderLinkId": order.client_order_id or "",
        "blockTradeId": "", "symbol": symbol_id, "price": num(order.price or ZERO),
        "qty": num(order.amount), "side": "Buy" if order.side is OrderSide.BUY else "Sell",
        "isLeverage": "", "positionIdx": position_idx(order.position_side),
        "orderStatus": order_status(order, child), "createType": "CreateByUser",
        "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": num(avg),
        "leavesQty": num(order.amount - filled if order.status is OrderStatus.OPEN else ZERO),
        "leavesValue": "0", "cumExecQty": num(filled),
        "cumExecValue": num((avg or ZERO) * filled), "cumExecFee": "0",
        "timeInForce": "GTC" if order.type == "limit" else "IOC",
        "orderType": "Limit" if order.type == "limit" else "Market",
        "stopOrderType": "Stop" if order.is_stop else "",
        "orderIv": "", "marketUnit": "", "slippageToleranceType": "UNKNOWN",
        "slippageTolerance": "0", "triggerPrice": num(order.trigger_price or ZERO),
        "takeProfit": "0", "stopLoss": "0", "tpslMode": "", "ocoTriggerBy": "",
        "tpLimitPrice": "0", "slLimitPrice": "0", "tpTriggerBy": "", "slTriggerBy": "",
        "triggerDirection": trigger_direction if order.is_stop else 0,
        "triggerBy": trigger_by if order.is_stop else "", "lastPriceOnCreated": "",
        "basePrice": "", "reduceOnly": order.reduce_only, "closeOnTrigger": False,
        "placeType": "", "smpType": "None", "smpGroup": 0, "smpOrderId": "",
        "createdTime": stamp, "updatedTime": stamp,
    }


def execution_json(fill: Fill, symbol_id: str, order: Order | None, order_id: str,
                   closed: Decimal, maker: bool, fee_rate: Decimal, mark: Decimal) -> dict[str, Any]:
    """One ``/v5/execution/list`` entry (no position side: ``closedSize`` tells a close)."""
    return {
        "symbol": symbol_id, "orderId": _uuid(order_id),
        "orderLinkId": (order.client_order_id or "") if order else "",
        "side": "Buy" if fill.side is OrderSide.BUY else "Sell",
        "orderPrice": num(order.price if order and order.price else fill.price),
        "orderQty": num(order.amount if order else fill.amount), "leavesQty": "0",
        "createType": "CreateByUser", "orderType": "Limit" if maker else "Market",
        "stopOrderType": "", "execFee": num(fill.fee), "execId": _uuid(fill.id),
        "execPrice": num(fill.price), "execQty": num(fill.amount), "execType": "Trade",
        "execValue": num(fill.amount * fill.price), "execTime": str(_ms(fill)),
        "feeCurrency": "", "isMaker": maker, "feeRate": num(fee_rate), "tradeIv": "",
        "markIv": "", "markPrice": num(mark), "indexPrice": "", "underlyingPrice": "",
        "blockTradeId": "", "closedSize": num(closed), "seq": int(fill.id), "extraFees": "",
    }


def funding_json(row_id: str, symbol_id: str, fee: Decimal, at_ms: int,
                 mark: Decimal) -> dict[str, Any]:
    """One funding entry of ``/v5/execution/list`` (``execType=Funding``)."""
    return {
        "symbol": symbol_id, "orderId": "", "orderLinkId": "", "side": "Buy" if fee > ZERO
        else "Sell", "orderPrice": "0", "orderQty": "0", "leavesQty": "0", "createType": "",
        "orderType": "UNKNOWN", "stopOrderType": "UNKNOWN", "execFee": num(fee),
        "execId": _uuid(row_id), "execPrice": num(mark), "execQty": "0",
        "execType": "Funding", "execValue": "0", "execTime": str(at_ms), "feeCurrency": "",
        "isMaker": False, "feeRate": "0", "tradeIv": "", "markIv": "", "markPrice": num(mark),
        "indexPrice": "", "underlyingPrice": "", "blockTradeId": "", "closedSize": "0",
        "seq": int(row_id), "extraFees": "",
    }


def wallet_json(balance: Balance) -> dict[str, Any]:
    """One ``/v5/account/wallet-balance`` account (UNIFIED) holding the venue's USDT."""
    upnl = balance.unrealized_pnl or ZERO
    equity = balance.wallet + upnl
    margin = balance.margin_used or ZERO
    return {
        "accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0",
        "totalEquity": num(equity), "totalWalletBalance": num(balance.wallet),
        "totalMarginBalance": num(equity), "totalAvailableBalance": num(balance.available or ZERO),
        "totalPerpUPL": num(upnl), "totalInitialMargin": num(margin),
        "totalMaintenanceMargin": "0", "accountLTV": "0",
        "coin": [{
            "coin": balance.currency, "equity": num(equity), "usdValue": num(equity),
            "walletBalance": num(balance.wallet), "locked": "0", "spotHedgingQty": "0",
            "borrowAmount": "", "accruedInterest": "", "totalOrderIM": "0",
            "totalPositionIM": num(margin), "totalPositionMM": "0",
            "unrealisedPnl": num(upnl), "cumRealisedPnl": "0", "bonus": "0",
            "marginCollateral": True, "collateralSwitch": True,
            "availableToWithdraw": "", "availableToBorrow": "",
        }],
    }


def _uuid(venue_id: str) -> str:
    """Bybit's order and execution ids are UUIDs; derived from the venue's number, reversibly."""
    return str(uuid.UUID(int=int(venue_id)))


def exchange_id(venue_order_id: str) -> str:
    """The id Bybit shows for one of the venue's orders."""
    return _uuid(venue_order_id)


def venue_id(bybit_id: str) -> str | None:
    try:
        return str(uuid.UUID(bybit_id).int)
    except ValueError:
        return None


def _ms(item: Order | Fill) -> int:
    stamp = item.timestamp
    return 0 if stamp is None else int(stamp.timestamp() * 1000)
