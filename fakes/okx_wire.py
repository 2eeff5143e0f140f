"""OKX v5's JSON shapes (perpetual swaps) for the paper venue's objects: the ``{"code", "msg",
"data"}`` envelope, instruments with a contract value, positions, orders, algo orders and fills,
as documented at www.okx.com/docs-v5.

Sizes are in contracts (``sz``, ``pos``, ``fillSz``), each worth ``ctVal`` of the base coin;
fees are negative when charged, OKX's own sign.
"""

from __future__ import annotations

import time
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

# OKX's codes (docs-v5: error codes); ccxt 4.5.90 maps them as noted.
PARAM_ERROR = 51000  # BadRequest
NO_INSTRUMENT = 51001  # BadSymbol
DUPLICATE_CLIENT_ID = 51016  # InvalidOrder
REDUCE_ONLY_REFUSED = 51169  # not mapped: plain ExchangeError
ORDER_NOT_FOUND = 51603  # OrderNotFound
CANCEL_FAILED = 51400  # OrderNotFound
WRONG_POS_SIDE = 51000
INVALID_KEY = 50111  # AuthenticationError
RATE_LIMITED = 50011  # RateLimitExceeded, HTTP 429
UNAVAILABLE = 50001  # OnMaintenance (a NetworkError)
TIMED_OUT = 50004  # RequestTimeout: "does not indicate success or failure"


def now_ms() -> int:
    return int(time.time() * 1000)


def envelope(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def error(code: int, msg: str, status: int = 200) -> WireError:
    return WireError(envelope([], str(code), msg), status)


def order_error(code: int, msg: str, **ids: str) -> WireError:
    """A refused order: ``code`` "1" with the reason in ``data[0].sCode``, as OKX answers."""
    return WireError(envelope([{**ids, "sCode": str(code), "sMsg": msg}], "1",
                              "All operations failed"))


def market_id(market: Market) -> str:
    return f"{market.base}-{market.quote}-SWAP"


def instrument(market: Market) -> dict[str, Any]:
    return {
        "instType": "SWAP", "instId": market_id(market), "uly": f"{market.base}-{market.quote}",
        "instFamily": f"{market.base}-{market.quote}", "baseCcy": "", "quoteCcy": "",
        "settleCcy": market.settle, "ctVal": num(market.contract_size), "ctMult": "1",
        "ctValCcy": market.base, "ctType": "linear", "lotSz": num(market.amount_step),
        "minSz": num(max(market.min_amount, market.amount_step)),
        "tickSz": num(market.price_tick), "lever": "100", "state": "live",
        "listTime": "1611916828000", "expTime": "", "optType": "", "stk": "",
        "maxLmtSz": "100000000", "maxMktSz": "10000", "maxLmtAmt": "20000000",
        "maxMktAmt": "", "maxTwapSz": "", "maxIcebergSz": "", "maxTriggerSz": "",
        "maxStopSz": "", "alias": "", "ruleType": "normal", "instIdCode": 10459,
    }


def pos_side(side: Side | None) -> str:
    return "net" if side is None else side.value


def position_json(position: Position, inst_id: str, *, hedge: bool, leverage: int,
                  liquidation: Decimal | None, settle: str) -> dict[str, Any]:
    """One ``/api/v5/account/positions`` entry; in net mode the size is signed."""
    signed = position.size if (hedge or position.side is Side.LONG) else -position.size
    mark = position.mark_price or position.entry_price
    notional = position.size * position.contract_size * mark
    return {
        "instType": "SWAP", "instId": inst_id, "mgnMode": "cross", "posId": "1",
        "posSide": position.side.value if hedge else "net", "pos": num(signed),
        "baseBal": "", "quoteBal": "", "posCcy": "", "availPos": "", "avgPx": num(position.entry_price),
        "markPx": num(mark), "upl": num(position.unrealized_pnl or ZERO), "uplRatio": "0",
        "uplLastPx": "0", "uplRatioLastPx": "0", "lever": str(leverage),
        "liqPx": num(liquidation), "imr": num(notional / leverage), "margin": "",
        "mgnRatio": "0", "mmr": "0", "liab": "", "liabCcy": "", "interest": "",
        "tradeId": "1", "optVal": "", "notionalUsd": num(notional), "adl": "1",
        "ccy": settle, "last": num(mark), "idxPx": num(mark), "usdPx": "", "bePx": "",
        "deltaBS": "", "deltaPA": "", "gammaBS": "", "gammaPA": "", "thetaBS": "",
        "thetaPA": "", "vegaBS": "", "vegaPA": "", "spotInUseAmt": "", "spotInUseCcy": "",
        "realizedPnl": "0", "pnl": "0", "fee": "0", "fundingFee": "0", "liqPenalty": "0",
        "closeOrderAlgo": [], "cTime": "1619507758793", "uTime": str(now_ms()),
        "bizRefId": "", "bizRefType": "",
    }


def _state(order: Order) -> str:
    if order.status is OrderStatus.OPEN:
        return "partially_filled" if order.filled > ZERO else "live"
    return "filled" if order.status is OrderStatus.CLOSED else "canceled"


def order_json(order: Order, inst_id: str, avg: Decimal | None, fee: Decimal, settle: str,
               client_id: str, algo: tuple[str, str] | None) -> dict[str, Any]:
    """An ordinary order (``/trade/order``, ``/trade/orders-pending``); one a stop placed
    when it fired carries the stop's ``algoId`` and ``algoClOrdId``."""
    stamp = str(_ms(order))
    return {
        "instType": "SWAP", "instId": inst_id, "tgtCcy": "", "ccy": "", "ordId": order.id,
        "clOrdId": client_id, "tag": "", "px": num(order.price) if order.price else "",
        "pxUsd": "", "pxVol": "", "pxType": "", "sz": num(order.amount), "pnl": "0",
        "ordType": order.type, "side": order.side.value, "posSide": pos_side(order.position_side),
        "tdMode": "cross", "accFillSz": num(order.filled), "fillPx": num(avg),
        "tradeId": "", "fillSz": num(order.filled), "fillTime": stamp if order.filled else "",
        "avgPx": num(avg), "state": _state(order), "stpId": "", "stpMode": "cancel_maker",
        "lever": "10", "attachAlgoClOrdId": "", "tpTriggerPx": "", "tpTriggerPxType": "",
        "tpOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "slOrdPx": "",
        "attachAlgoOrds": [], "linkedAlgoOrd": {"algoId": ""}, "feeCcy": settle,
        "fee": num(-fee), "rebateCcy": settle, "rebate": "0",
        "source": "13" if algo else "", "category": "normal",
        "reduceOnly": "true" if order.reduce_only else "false", "isTpLimit": "false",
        "cancelSource": "", "cancelSourceReason": "", "quickMgnType": "",
        "algoClOrdId": algo[1] if algo else "", "algoId": algo[0] if algo else "",
        "uTime": stamp, "cTime": stamp,
    }


def algo_state(stop: Order, child: Order | None) -> str:
    if stop.status is OrderStatus.OPEN:
        return "live"
    if stop.status is OrderStatus.TRIGGERED and child is not None:
        return "effective"
    if stop.status is OrderStatus.EXPIRED:
        return "order_failed"
    return "canceled"


def algo_json(stop: Order, inst_id: str, child: Order | None, avg: Decimal | None,
              client_id: str, trigger_type: str) -> dict[str, Any]:
    """A stop loss as ``/trade/order-algo`` and ``/trade/orders-algo-pending`` show it:
    ``ordType`` conditional, the trigger in ``slTriggerPx``; ``ordId`` is the order it became."""
    stamp = str(_ms(stop))
    return {
        "instType": "SWAP", "instId": inst_id, "ccy": "", "ordId": child.id if child else "",
        "ordIdList": [child.id] if child else [], "algoId": stop.id, "clOrdId": "",
        "sz": num(stop.amount), "closeFraction": "", "ordType": "conditional",
        "side": stop.side.value, "posSide": pos_side(stop.position_side), "tdMode": "cross",
        "tgtCcy": "", "state": algo_state(stop, child), "lever": "10", "tpTriggerPx": "",
        "tpTriggerPxType": "", "tpOrdPx": "", "slTriggerPx": num(stop.trigger_price),
        "slTriggerPxType": trigger_type, "slOrdPx": "-1", "triggerPx": "",
        "triggerPxType": "", "ordPx": "", "actualSz": num(child.filled) if child else "",
        "actualPx": num(avg) if child else "", "actualSide": "sl" if child else "",
        "triggerTime": str(_ms(child)) if child else "", "pxVar": "", "pxSpread": "",
        "szLimit": "", "pxLimit": "", "tag": "", "timeInterval": "", "callbackRatio": "",
        "callbackSpread": "", "activePx": "", "moveTriggerPx": "", "reduceOnly":
        "true" if stop.reduce_only else "false", "quickMgnType": "", "last": "",
        "failCode": "", "algoClOrdId": client_id, "amendPxOnTriggerType": "0",
        "attachAlgoOrds": [], "linkedOrd": {"ordId": ""}, "isTradeBorrowMode": "",
        "chaseType": "", "chaseVal": "", "maxChaseType": "", "maxChaseVal": "",
        "cTime": stamp, "uTime": stamp,
    }


def fill_json(fill: Fill, inst_id: str, client_id: str, bill_id: int, pnl: Decimal,
              maker: bool, settle: str, mark: Decimal) -> dict[str, Any]:
    """One ``/trade/fills-history`` entry: size in contracts, the fee negative when charged."""
    stamp = str(_ms(fill))
    return {
        "instType": "SWAP", "instId": inst_id, "tradeId": str(fill.id), "ordId": fill.order_id,
        "clOrdId": client_id, "billId": str(bill_id), "subType": "1" if fill.side is
        OrderSide.BUY else "2", "tag": "", "fillPx": num(fill.price), "fillSz": num(fill.amount),
        "fillIdxPx": num(mark), "fillPnl": num(pnl), "fillPxVol": "", "fillPxUsd": "",
        "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": num(mark), "side": fill.side.value,
        "posSide": pos_side(fill.position_side), "execType": "M" if maker else "T",
        "feeCcy": settle, "fee": num(-fill.fee), "ts": stamp, "fillTime": stamp,
        "feeRate": "",
    }


def funding_bill(bill_id: str, inst_id: str, ccy: str, amount: Decimal,
                 at_ms: int) -> dict[str, Any]:
    """One ``/account/bills-archive`` funding bill (``type`` 8; 173 paid, 174 received)."""
    return {
        "bal": "0", "balChg": num(amount), "billId": bill_id, "ccy": ccy, "clOrdId": "",
        "execType": "", "fee": "0", "fillFwdPx": "", "fillIdxPx": "", "fillMarkPx": "",
        "fillMarkVol": "", "fillPxUsd": "", "fillPxVol": "", "fillTime": str(at_ms),
        "from": "", "instId": inst_id, "instType": "SWAP", "interest": "0",
        "mgnMode": "cross", "notes": "", "ordId": "", "pnl": num(amount), "posBal": "0",
        "posBalChg": "0", "px": "", "subType": "174" if amount > ZERO else "173", "sz": "0",
        "tag": "", "to": "", "tradeId": "", "ts": str(at_ms), "type": "8",
    }


def balance_json(balance: Balance) -> dict[str, Any]:
    """``/account/balance``: ``cashBal`` is the wallet, ``eq`` adds the unrealized P&L."""
    upnl = balance.unrealized_pnl or ZERO
    return {
        "adjEq": "", "borrowFroz": "", "imr": num(balance.margin_used or ZERO), "isoEq": "0",
        "mgnRatio": "", "mmr": "0", "notionalUsd": "", "ordFroz": "0",
        "totalEq": num(balance.wallet + upnl), "uTime": str(now_ms()), "upl": num(upnl),
        "details": [{
            "ccy": balance.currency, "eq": num(balance.wallet + upnl),
            "cashBal": num(balance.wallet), "availBal": num(balance.available or ZERO),
            "availEq": num(balance.available or ZERO), "frozenBal": num(balance.margin_used or ZERO),
            "ordFrozen": "0", "upl": num(upnl), "imr": num(balance.margin_used or ZERO),
            "isoEq": "0", "mgnRatio": "", "notionalLever": "", "uTime": str(now_ms()),
            "eqUsd": num(balance.wallet + upnl), "disEq": num(balance.wallet + upnl),
        }],
    }


def _ms(item: Order | Fill) -> int:
    stamp = item.timestamp
    return 0 if stamp is None else int(stamp.timestamp() * 1000)
