"""Bybit v5 private messages as Bybit documents them (not as our fake writes them) read exactly:
hedge legs by ``positionIdx``, an emptied leg stated flat, one-way sides, executions with their
own fee and leg, conditional orders, other categories skipped, the unreadable as a gap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from positionbot.tracker.core.models import OrderSide, OrderStatus, Side
from positionbot.tracker.exchange.ccxt.bybit_events import BybitSession
from tests.support.stream import D

BTC = "BTC/USDT:USDT"
MARKETS = {"BTCUSDT": (BTC, "USDT")}


def session() -> BybitSession:
    return BybitSession("acc", MARKETS.get)


def position_row(**fields: Any) -> dict[str, Any]:
    row = {"positionIdx": 0, "tradeMode": 0, "riskId": 1, "riskLimitValue": "2000000",
           "symbol": "BTCUSDT", "side": "Buy", "size": "0.5", "entryPrice": "28000.5",
           "sessionAvgPrice": "0", "leverage": "10", "positionValue": "14000.25",
           "positionBalance": "0", "markPrice": "28184.5", "positionIM": "1400",
           "positionMM": "70", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
           "unrealisedPnl": "92", "curRealisedPnl": "1.26", "cumRealisedPnl": "-25.06",
           "createdTime": "1694402496913", "updatedTime": "1697682317038", "tpslMode": "Full",
           "liqPrice": "0", "bustPrice": "", "category": "linear", "positionStatus": "Normal",
           "adlRankIndicator": 0, "autoAddMargin": 0, "leverageSysUpdatedTime": "",
           "mmrSysUpdatedTime": "", "seq": 8327597863, "isReduceOnly": False}
    row.update(fields)
    return row


def push(topic: str, *rows: dict[str, Any]) -> dict[str, Any]:
    return {"id": "100307601-c7e6", "topic": topic, "creationTime": 1697682317044,
            "data": list(rows)}


def test_one_way_positions_are_signed_and_an_empty_one_is_stated_flat() -> None:
    batch, pass_on = session().read(push(
        "position", position_row(), position_row(side="Sell", size="0.2", updatedTime="1"),
        position_row(side="", size="0", entryPrice="0", updatedTime="2")))
    assert batch is not None and not pass_on
    long, short, flat = batch.positions
    assert (long.symbol, long.leg, long.amount, long.entry_price) == (
        BTC, None, D("0.5"), D("28000.5"))
    assert long.at == datetime.fromtimestamp(1697682317.038, tz=UTC)
    assert (short.amount, short.side) == (D("-0.2"), Side.SHORT)
    assert (flat.amount, flat.side) == (D("0"), None)


def test_hedge_legs_come_from_position_idx_and_an_emptied_leg_is_flat() -> None:
    batch, _ = session().read(push(
        "position", position_row(positionIdx=1, size="0.3"),
        position_row(positionIdx=2, side="", size="0", entryPrice="0")))
    assert batch is not None
    buy_leg, sell_leg = batch.positions
    assert (buy_leg.leg, buy_leg.amount, buy_leg.side) == (Side.LONG, D("0.3"), Side.LONG)
    assert (sell_leg.leg, sell_leg.amount, sell_leg.side) == (Side.SHORT, D("0"), None)


def execution_row(**fields: Any) -> dict[str, Any]:
    row = {"category": "linear", "symbol": "BTCUSDT", "closedSize": "0.5",
           "execFee": "26.3725275", "execId": "0ab1bdf7-4219-438b-b30a-32ec863018f7",
           "execPrice": "95900.1", "execQty": "0.5", "execType": "Trade",
           "execValue": "47950.05", "feeRate": "0.00055", "tradeIv": "", "markIv": "",
           "blockTradeId": "", "markPrice": "95901.48", "indexPrice": "",
           "underlyingPrice": "", "leavesQty": "0",
           "orderId": "9aac161b-8ed6-450d-9cab-c5cc67c21784", "orderLinkId": "",
           "orderPrice": "94942.5", "orderQty": "0.5", "orderType": "Market",
           "stopOrderType": "UNKNOWN", "side": "Sell", "execTime": "1746270400353",
           "isLeverage": "0", "isMaker": False, "seq": 140612148849382, "marketUnit": "",
           "execPnl": "0.05", "createType": "CreateByUser", "extraFees": [],
           "feeCurrency": "USDT"}
    row.update(fields)
    return row


def test_executions_are_fills_with_their_own_fee_and_the_leg_they_reduced() -> None:
    batch, _ = session().read(push(
        "execution", execution_row(),
        execution_row(execId="f-2", closedSize="0", side="Buy", execFee="-0.01"),
        execution_row(execId="funding", execType="Funding", execQty="0"),
        execution_row(execId="spot", category="spot")))
    assert batch is not None
    closing, opening = batch.fills
    assert (closing.id, closing.amount, closing.price, closing.fee) == (
        "0ab1bdf7-4219-438b-b30a-32ec863018f7", D("0.5"), D("95900.1"), D("26.3725275"))
    assert (closing.side, closing.position_side) == (OrderSide.SELL, Side.LONG)
    assert (opening.fee, opening.position_side) == (D("-0.01"), Side.LONG)  # a maker rebate


def order_row(**fields: Any) -> dict[str, Any]:
    row = {"symbol": "BTCUSDT", "orderId": "5cf98598-39a7-459e-97bf-76ca765ee020",
           "side": "Sell", "orderType": "Market", "cancelType": "UNKNOWN", "price": "0",
           "qty": "0.5", "orderIv": "", "timeInForce": "IOC", "orderStatus": "Untriggered",
           "orderLinkId": "pb-7-sl-x", "lastPriceOnCreated": "", "reduceOnly": True,
           "leavesQty": "0.5", "leavesValue": "0", "cumExecQty": "0", "cumExecValue": "0",
           "avgPrice": "", "blockTradeId": "", "positionIdx": 1, "cumExecFee": "0",
           "closedPnl": "0", "createdTime": "1672364262444", "updatedTime": "1672364262457",
           "rejectReason": "EC_NoError", "stopOrderType": "Stop", "tpslMode": "",
           "triggerPrice": "27000", "takeProfit": "", "stopLoss": "", "tpTriggerBy": "",
           "slTriggerBy": "", "tpLimitPrice": "", "slLimitPrice": "", "triggerDirection": 2,
           "triggerBy": "MarkPrice", "closeOnTrigger": False, "category": "linear",
           "placeType": "", "smpType": "None", "smpGroup": 0, "smpOrderId": "",
           "feeCurrency": ""}
    row.update(fields)
    return row


def test_a_conditional_stop_keeps_its_id_when_it_fires() -> None:
    reader = session()
    batch, _ = reader.read(push("order", order_row(), order_row(orderStatus="Triggered"),
                                order_row(orderStatus="Filled", cumExecQty="0.5")))
    assert batch is not None
    placed, fired, filled = batch.orders
    assert (placed.is_stop, placed.status, placed.trigger_price) == (
        True, OrderStatus.OPEN, D("27000"))
    assert (placed.client_order_id, placed.position_side) == ("pb-7-sl-x", Side.LONG)
    assert (fired.status, fired.triggered_order_id) == (OrderStatus.TRIGGERED, fired.id)
    assert (filled.status, filled.filled) == (OrderStatus.TRIGGERED, D("0.5"))
    # and its execution takes the order's leg
    fills, _ = reader.read(push("execution", execution_row(
        orderId=fired.id, closedSize="0", side="Sell")))
    assert fills is not None and fills.fills[0].position_side is Side.LONG


def test_a_stop_removed_by_hand_is_deactivated_and_plain_orders_are_not_stops() -> None:
    batch, _ = session().read(push(
        "order", order_row(orderStatus="Deactivated"),
        order_row(orderId="o-2", stopOrderType="", triggerPrice="0", orderStatus="Filled",
                  cumExecQty="0.5", positionIdx=0)))
    assert batch is not None
    removed, plain = batch.orders
    assert (removed.is_stop, removed.status) == (True, OrderStatus.CANCELED)
    assert (plain.is_stop, plain.status, plain.position_side) == (False, OrderStatus.CLOSED, None)


def test_control_messages_go_to_ccxt_and_the_subscription_answer_makes_it_ready() -> None:
    reader = session()
    assert reader.read({"success": True, "ret_msg": "", "op": "auth", "conn_id": "c"}) == (
        None, True)
    assert not reader.ready(None)
    assert reader.read({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "c",
                        "req_id": "positionbot-subscribe"}) == (None, True)
    assert reader.ready(None)
    assert reader.read({"req_id": "3", "op": "pong", "args": ["1675418560633"],
                        "conn_id": "c"}) == (None, True)


def test_an_unreadable_or_unknown_row_is_a_gap() -> None:
    batch, _ = session().read(push("position", position_row(size="lots")))
    assert batch is not None and batch.gap is not None and not batch.positions
    batch, _ = session().read(push("order", order_row(symbol="NEWUSDT")))
    assert batch is not None and batch.gap is not None and "NEWUSDT" in batch.gap
