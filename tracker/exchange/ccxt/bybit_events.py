"""Bybit v5's private stream (``/v5/private``) -> the core's stream types, exactly, from the raw
strings.

The session: ccxt.pro dials and sends ``{"op": "auth"}``; we subscribe ``position``, ``order``
and ``execution`` in one request and count the session ready once Bybit acknowledges it.

- ``position``: one row per leg, ``positionIdx`` 0 (one-way, side ``Buy``/``Sell``, ``""``
  when flat), 1 (hedge buy leg) or 2 (hedge sell leg); an emptied leg arrives with size
  ``"0"`` and is stated flat. Only rows present say anything.
- ``order``: conditional orders included (``stopOrderType``, ``triggerPrice``). A fired stop
  keeps its id: ``Untriggered`` -> ``Triggered`` -> ``Filled``; ``Deactivated`` is a stop
  cancelled before it fired.
- ``execution``: one fill per row keyed by ``execId`` with its own ``execFee`` (positive when
  paid). It carries no leg: the order's ``positionIdx`` tells it when the order was seen,
  else ``closedSize`` (a fill that closed something belongs to the leg it reduced).

Rows of spot or option categories are not ours and are skipped; anything unreadable is a gap.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any

from positionbot.tracker.core.models import ZERO, Fill, Order, OrderSide, OrderStatus, Side
from positionbot.tracker.core.stream_events import PositionReport, StreamBatch
from positionbot.tracker.exchange.ccxt.binance_events import SymbolOf
from positionbot.tracker.exchange.ccxt.normalize import Malformed, optional_decimal, to_decimal
from positionbot.tracker.exchange.ccxt.stream_session import (
    StreamSession,
    clients_at,
    data_rows,
    ms_time,
    order_side,
)

TOPICS = ("position", "order", "execution")
_SUBSCRIBE_ID = "positionbot-subscribe"
_CONTRACTS = (None, "", "linear", "inverse")
_LEGS = {"0": None, "1": Side.LONG, "2": Side.SHORT}
_STATUS = {"New": OrderStatus.OPEN, "PartiallyFilled": OrderStatus.OPEN,
           "Untriggered": OrderStatus.OPEN, "Active": OrderStatus.OPEN,
           "Triggered": OrderStatus.TRIGGERED, "Filled": OrderStatus.CLOSED,
           "Cancelled": OrderStatus.CANCELED, "PartiallyFilledCanceled": OrderStatus.CANCELED,
           "Deactivated": OrderStatus.CANCELED, "Rejected": OrderStatus.REJECTED}
_FILLS = ("Trade", "AdlTrade", "BustTrade", "Delivery")  # not Funding, Settle...
_REMEMBERED_ORDERS = 2_000


class BybitSession(StreamSession):
    """Bybit v5: ``auth`` then one subscription to the three topics on the private socket."""

    def __init__(self, account: str, symbol_of: SymbolOf) -> None:
        super().__init__(account, symbol_of)
        self._subscribed = False
        self._legs: OrderedDict[str, Side | None] = OrderedDict()  # order id -> its leg

    def reset(self, exchange: Any) -> None:
        self._subscribed = False
        self._legs.clear()

    @staticmethod
    def url(exchange: Any) -> str:
        return str(exchange.implode_hostname(exchange.urls["api"]["ws"]["private"]["contract"]))

    def watches(self, exchange: Any) -> list[Coroutine[Any, Any, None]]:
        return [self._follow(exchange)]

    async def _follow(self, exchange: Any) -> None:
        url = self.url(exchange)
        await exchange.authenticate(url)
        request = {"op": "subscribe", "req_id": _SUBSCRIBE_ID, "args": list(TOPICS)}
        await exchange.watch(url, "positionbot", request, "positionbot", {"id": _SUBSCRIBE_ID})

    def clients(self, exchange: Any) -> list[Any]:
        return clients_at(exchange, [self.url(exchange)])

    def ready(self, exchange: Any) -> bool:
        return self._subscribed

    def read(self, message: Any) -> tuple[StreamBatch | None, bool]:
        if not isinstance(message, Mapping):
            return None, True
        topic = message.get("topic")
        if topic in TOPICS:
            try:
                return self._read(str(topic), message), False
            except (Malformed, KeyError, ValueError, TypeError) as e:
                return StreamBatch(gap=f"bybit: unreadable {topic} event: {e}"), False
        if message.get("op") == "subscribe" and (message.get("success") is True
                                                 or message.get("retCode") == 0):
            self._subscribed = True
        return None, True

    def _read(self, topic: str, message: Mapping[str, Any]) -> StreamBatch:
        rows = [r for r in data_rows(message) if r.get("category") in _CONTRACTS]
        if topic == "position":
            at = message.get("creationTime")
            return StreamBatch(positions=tuple(self._position(r, at) for r in rows))
        if topic == "order":
            return StreamBatch(orders=tuple(self._order(r) for r in rows))
        fills = (self._fill(r) for r in rows if r.get("execType") in _FILLS)
        return StreamBatch(fills=tuple(f for f in fills if f.amount > ZERO))

    def _symbol(self, row: Mapping[str, Any]) -> tuple[str, str]:
        return self.known_market(str(row.get("symbol") or ""))

    def _position(self, row: Mapping[str, Any], sent: object) -> PositionReport:
        symbol, _ = self._symbol(row)
        idx = str(row.get("positionIdx"))
        if idx not in _LEGS:
            raise Malformed(f"{symbol}: positionIdx {idx!r}")
        leg = _LEGS[idx]
        size = abs(to_decimal(row.get("size"), f"{symbol} position size"))
        amount = size
        if leg is None and size != ZERO:
            side = row.get("side")
            if side not in ("Buy", "Sell"):
                raise Malformed(f"{symbol}: one-way position of size {size} with side {side!r}")
            amount = size if side == "Buy" else -size
        entry = optional_decimal(row.get("entryPrice") or row.get("avgPrice"), f"{symbol} entry")
        at = ms_time(row.get("updatedTime") or sent, f"{symbol} position")
        mark = optional_decimal(row.get("markPrice"), f"{symbol} mark", zero_is_none=True)
        return PositionReport(symbol, leg, amount, entry or ZERO, at, mark)

    def _order(self, row: Mapping[str, Any]) -> Order:
        symbol, _ = self._symbol(row)
        order_id = str(row["orderId"])
        what = f"order {order_id}"
        status = _STATUS.get(str(row.get("orderStatus")))
        if status is None:
            raise Malformed(f"{what}: status {row.get('orderStatus')!r}")
        trigger = optional_decimal(row.get("triggerPrice"), f"{what} trigger", zero_is_none=True)
        is_stop = str(row.get("stopOrderType") or "") not in ("", "UNKNOWN") or trigger is not None
        if is_stop and status is OrderStatus.CLOSED:
            status = OrderStatus.TRIGGERED  # a fired stop's order filled, under the stop's id
        leg = _LEGS.get(str(row.get("positionIdx")))
        self._legs[order_id] = leg
        self._legs.move_to_end(order_id)
        while len(self._legs) > _REMEMBERED_ORDERS:
            self._legs.popitem(last=False)
        client_id = row.get("orderLinkId")
        return Order(
            id=order_id, symbol=symbol, side=order_side(row.get("side"), what),
            type=str(row.get("orderType") or "unknown").lower(), status=status,
            amount=to_decimal(row.get("qty"), f"{what} quantity"),
            filled=optional_decimal(row.get("cumExecQty"), f"{what} filled") or ZERO,
            price=optional_decimal(row.get("price"), f"{what} price", zero_is_none=True),
            trigger_price=trigger, reduce_only=row.get("reduceOnly") is True, is_stop=is_stop,
            position_side=leg,
            client_order_id=client_id if isinstance(client_id, str) and client_id else None,
            triggered_order_id=order_id if status is OrderStatus.TRIGGERED else None,
            timestamp=_stamp(row.get("updatedTime") or row.get("createdTime"), what))

    def _fill(self, row: Mapping[str, Any]) -> Fill:
        symbol, settle = self._symbol(row)
        order_id = str(row["orderId"])
        what = f"execution of {order_id}"
        side = order_side(row.get("side"), what)
        if order_id in self._legs:
            leg = self._legs[order_id]
        else:  # a fill that closed something reduced the leg opposite to its side
            closing = (optional_decimal(row.get("closedSize"), f"{what} closed size")
                       or ZERO) > ZERO
            buy = side is OrderSide.BUY
            leg = (Side.SHORT if buy else Side.LONG) if closing else (
                Side.LONG if buy else Side.SHORT)
        fee = ZERO
        if row.get("feeCurrency") in (None, "", settle):  # another asset cannot be priced here
            fee = optional_decimal(row.get("execFee"), f"{what} fee") or ZERO
        return Fill(
            id=str(row["execId"]), order_id=order_id, symbol=symbol, side=side,
            amount=to_decimal(row.get("execQty"), f"{what} quantity"),
            price=to_decimal(row.get("execPrice"), f"{what} price"), fee=fee,
            timestamp=ms_time(row.get("execTime"), what), position_side=leg)


def _stamp(value: object, what: str) -> datetime | None:
    return None if value in (None, "") else ms_time(value, what)
