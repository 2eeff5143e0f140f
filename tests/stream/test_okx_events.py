"""OKX v5 private messages as OKX documents them (not as our fake writes them) read exactly:
positions in contracts per leg, a closed leg only when stated at "0", repeats dropped, order
updates carrying their fill (fee sign turned), algo orders, other instrument types skipped."""

from __future__ import annotations

from typing import Any

import pytest

from positionbot.tracker.core.models import OrderSide, OrderStatus, Side
from positionbot.tracker.engine.stream_port import StreamLost
from positionbot.tracker.exchange.ccxt.okx_events import OkxSession
from tests.support.stream import D

BTC = "BTC/USDT:USDT"
MARKETS = {"BTC-USDT-SWAP": (BTC, "USDT")}


def session() -> OkxSession:
    return OkxSession("acc", MARKETS.get)


def push(channel: str, *rows: dict[str, Any]) -> dict[str, Any]:
    return {"arg": {"channel": channel, "uid": "77982378738415879", "instType": "ANY"},
            "data": list(rows)}


def position_row(**fields: Any) -> dict[str, Any]:
    row = {"adl": "1", "availPos": "3", "avgPx": "50075.5", "cTime": "1619507758793",
           "ccy": "USDT", "deltaBS": "", "deltaPA": "", "gammaBS": "", "gammaPA": "", "imr": "",
           "instId": "BTC-USDT-SWAP", "instType": "SWAP", "interest": "0", "idxPx": "50100",
           "last": "50100", "lever": "10", "liab": "", "liabCcy": "", "liqPx": "45000",
           "markPx": "50100", "margin": "15", "mgnMode": "cross", "mgnRatio": "11.7",
           "mmr": "0.6", "notionalUsd": "1503", "optVal": "", "pTime": "1619507761462",
           "pendingCloseOrdLiabVal": "", "pos": "3", "baseBorrowed": "", "baseInterest": "",
           "quoteBorrowed": "", "quoteInterest": "", "posCcy": "", "posId": "307173036051017730",
           "posSide": "net", "spotInUseAmt": "", "spotInUseCcy": "", "bizRefId": "",
           "bizRefType": "", "thetaBS": "", "thetaPA": "", "tradeId": "109844",
           "uTime": "1619507761462", "upl": "0.07", "uplLastPx": "0.07", "uplRatio": "0.0046",
           "uplRatioLastPx": "0.0046", "vegaBS": "", "vegaPA": "", "realizedPnl": "0.001",
           "pnl": "0.0011", "fee": "-0.0001", "fundingFee": "0", "liqPenalty": "0",
           "closeOrderAlgo": []}
    row.update(fields)
    return row


def test_positions_are_contracts_signed_in_net_mode_per_leg_in_long_short_mode() -> None:
    batch, pass_on = session().read(push(
        "positions", position_row(), position_row(posSide="long", pos="2", uTime="2"),
        position_row(posSide="short", pos="0", avgPx="", uTime="3"),
        position_row(instType="MARGIN", instId="BTC-USDT")))
    assert batch is not None and not pass_on
    net, long, flat_short = batch.positions
    assert (net.symbol, net.leg, net.amount, net.entry_price) == (
        BTC, None, D("3"), D("50075.5"))  # contracts; the market's contract size converts them
    assert (long.leg, long.amount) == (Side.LONG, D("2"))
    assert (flat_short.leg, flat_short.amount, flat_short.side) == (Side.SHORT, D("0"), None)
    batch, _ = session().read(push("positions", position_row(pos="-1.5")))
    assert batch is not None and batch.positions[0].side is Side.SHORT


def test_a_periodic_snapshot_repeating_a_row_says_nothing_new() -> None:
    reader = session()
    first, _ = reader.read(push("positions", position_row()))
    again, _ = reader.read(push("positions", position_row(pTime="1619507766462")))
    moved, _ = reader.read(push("positions", position_row(pos="4", uTime="1619507770000")))
    assert first is not None and len(first.positions) == 1
    assert again is not None and again.positions == ()
    assert moved is not None and moved.positions[0].amount == D("4")


def order_row(**fields: Any) -> dict[str, Any]:
    row = {"accFillSz": "1", "algoClOrdId": "", "algoId": "", "amendResult": "",
           "amendSource": "", "avgPx": "50000", "cancelSource": "", "category": "normal",
           "ccy": "", "clOrdId": "pbX3XentryXab", "code": "0", "cTime": "1654084334977",
           "execType": "T", "fee": "-0.2", "feeCcy": "USDT", "fillFee": "-0.2",
           "fillFeeCcy": "USDT", "fillNotionalUsd": "500", "fillPx": "50000", "fillSz": "1",
           "fillPnl": "0", "fillTime": "1654084353263", "fillPxVol": "", "fillPxUsd": "",
           "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": "50001",
           "instId": "BTC-USDT-SWAP", "instType": "SWAP", "lever": "10", "msg": "",
           "notionalUsd": "500", "ordId": "452197707845865472", "ordType": "market",
           "pnl": "0", "posSide": "net", "px": "", "pxUsd": "", "pxVol": "", "pxType": "",
           "quickMgnType": "", "rebate": "0", "rebateCcy": "USDT", "reduceOnly": "false",
           "side": "buy", "slOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "",
           "source": "", "state": "filled", "stpId": "", "stpMode": "", "sz": "1", "tag": "",
           "tdMode": "cross", "tgtCcy": "", "tpOrdPx": "", "tpTriggerPx": "",
           "tpTriggerPxType": "", "tradeId": "242589207", "reqId": "",
           "uTime": "1654084353264", "isTpLimit": "false", "linkedAlgoOrd": {"algoId": ""}}
    row.update(fields)
    return row


def test_an_order_update_carries_its_fill_with_the_fee_as_paid() -> None:
    batch, _ = session().read(push(
        "orders", order_row(), order_row(ordId="2", state="live", accFillSz="0", fillSz="0",
                                          tradeId="", fillPx="", fillFee="0"),
        order_row(instType="SPOT", instId="BTC-USDT")))
    assert batch is not None
    (fill,) = batch.fills
    assert (fill.id, fill.order_id, fill.amount, fill.price, fill.fee) == (
        "242589207", "452197707845865472", D("1"), D("50000"), D("0.2"))
    assert (fill.side, fill.position_side) == (OrderSide.BUY, None)
    filled, live = batch.orders
    assert (filled.status, filled.filled, filled.client_order_id) == (
        OrderStatus.CLOSED, D("1"), "pb-3-entry-ab")
    assert live.status is OrderStatus.OPEN


def test_an_order_a_stop_placed_says_the_stop_fired() -> None:
    batch, _ = session().read(push("orders", order_row(
        algoId="681096944655273984", algoClOrdId="pbX3XslXab", side="sell", posSide="long",
        reduceOnly="true")))
    assert batch is not None
    fired, child = batch.orders
    assert (fired.id, fired.is_stop, fired.status, fired.triggered_order_id) == (
        "681096944655273984", True, OrderStatus.TRIGGERED, child.id)
    assert fired.client_order_id == "pb-3-sl-ab"
    assert batch.fills[0].position_side is Side.LONG


def algo_row(**fields: Any) -> dict[str, Any]:
    row = {"actualPx": "", "actualSide": "", "actualSz": "0", "algoClOrdId": "pbX3XslXab",
           "algoId": "681096944655273984", "amendPxOnTriggerType": "", "attachAlgoOrds": [],
           "cTime": "1685002746818", "uTime": "1708679675245", "ccy": "", "clOrdId": "",
           "closeFraction": "", "failCode": "", "instId": "BTC-USDT-SWAP", "instType": "SWAP",
           "last": "50100", "lever": "10", "isTradeBorrowMode": "", "notionalUsd": "500",
           "ordId": "", "ordIdList": [], "ordPx": "", "ordType": "conditional",
           "posSide": "net", "pTime": "1685002746818", "quickMgnType": "",
           "reduceOnly": "true", "side": "sell", "slOrdPx": "-1", "slTriggerPx": "48000",
           "slTriggerPxType": "mark", "state": "live", "sz": "1", "tag": "", "tdMode": "cross",
           "tgtCcy": "", "tpOrdPx": "", "tpTriggerPx": "", "tpTriggerPxType": "",
           "triggerPx": "", "triggerTime": "", "amendResult": "", "reqId": "", "code": "0",
           "msg": ""}
    row.update(fields)
    return row


def test_algo_orders_are_stops_live_fired_or_cancelled() -> None:
    batch, _ = session().read(push(
        "orders-algo", algo_row(),
        algo_row(state="effective", actualSz="1", ordIdList=["700"], triggerTime="1"),
        algo_row(state="canceled"), algo_row(state="order_failed")))
    assert batch is not None
    live, fired, cancelled, failed = batch.orders
    assert (live.is_stop, live.status, live.trigger_price, live.reduce_only) == (
        True, OrderStatus.OPEN, D("48000"), True)
    assert live.client_order_id == "pb-3-sl-ab"
    assert (fired.status, fired.triggered_order_id, fired.filled) == (
        OrderStatus.TRIGGERED, "700", D("1"))
    assert cancelled.status is OrderStatus.CANCELED
    assert failed.status is OrderStatus.EXPIRED


def test_control_messages_and_readiness() -> None:
    reader = session()
    assert reader.read("pong") == (None, True)
    assert reader.read({"event": "login", "code": "0", "msg": "", "connId": "a"}) == (None, True)
    for channel in ("positions", "orders"):
        reader.read({"event": "subscribe", "arg": {"channel": channel, "instType": "ANY"},
                     "connId": "a"})
    assert not reader.ready(None)
    reader.read({"event": "subscribe", "arg": {"channel": "orders-algo", "instType": "ANY"},
                 "connId": "b"})
    assert reader.ready(None)
    with pytest.raises(StreamLost):
        reader.read({"event": "notice", "code": "64008",
                     "msg": "The connection will soon be closed for a service upgrade."})
