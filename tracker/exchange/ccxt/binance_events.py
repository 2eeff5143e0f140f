"""Binance USDⓈ-M user-data events -> the core's stream types, exactly, from the raw strings.

ccxt.pro's parsed structures carry floats and merge events into caches (a fill delivered twice
doubles the cached order's fee), so each raw message is read here instead, field by field:
``ACCOUNT_UPDATE`` (position legs, zero included), ``ORDER_TRADE_UPDATE`` (order states, and
with ``x`` = ``TRADE`` one fill keyed by its trade id) and ``ALGO_UPDATE`` (conditional orders,
which is where stop losses live since Binance's Algo service). ``listenKeyExpired`` and
``eventStreamTerminated`` end the session. A message that cannot be read becomes a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from positionbot.tracker.core.models import ZERO, Fill, Order, OrderSide, OrderStatus, Side
from positionbot.tracker.core.stream_events import PositionReport, StreamBatch
from positionbot.tracker.engine.stream_port import StreamLost
from positionbot.tracker.exchange.ccxt.normalize import Malformed, optional_decimal, to_decimal

SymbolOf = Callable[[str], tuple[str, str] | None]
"""A Binance market id -> (unified symbol, settle currency), or None when unknown."""

_LEGS = {"LONG": Side.LONG, "SHORT": Side.SHORT, "BOTH": None}
_ORDER_STATUS = {"NEW": OrderStatus.OPEN, "PARTIALLY_FILLED": OrderStatus.OPEN,
                 "FILLED": OrderStatus.CLOSED, "CANCELED": OrderStatus.CANCELED,
                 "EXPIRED": OrderStatus.EXPIRED, "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
                 "REJECTED": OrderStatus.REJECTED}
_ALGO_STATUS = {"NEW": OrderStatus.OPEN, "TRIGGERING": OrderStatus.OPEN,
                "TRIGGERED": OrderStatus.TRIGGERED, "FINISHED": OrderStatus.TRIGGERED,
                "CANCELED": OrderStatus.CANCELED, "EXPIRED": OrderStatus.EXPIRED,
                "REJECTED": OrderStatus.REJECTED}
_SESSION_ENDS = {"listenKeyExpired": "the listen key expired",
                 "eventStreamTerminated": "the exchange terminated the event stream"}


def parse_event(message: Any, symbol_of: SymbolOf) -> StreamBatch | None:
    """One raw message as a batch (None: not a user-data event, e.g. a subscription answer).

    Raises ``StreamLost`` when the message ends the session."""
    if not isinstance(message, Mapping):
        return None
    kind = message.get("e")
    if kind in _SESSION_ENDS:
        raise StreamLost(f"binance: {_SESSION_ENDS[kind]}")
    try:
        if kind == "ACCOUNT_UPDATE":
            return _account_update(message, symbol_of)
        if kind == "ORDER_TRADE_UPDATE":
            return _order_update(_body(message), symbol_of)
        if kind == "ALGO_UPDATE":
            return StreamBatch(orders=(_algo_update(_body(message), message, symbol_of),))
    except (Malformed, KeyError, ValueError) as e:
        return StreamBatch(gap=f"unreadable {kind} event: {e}")
    return None


def _body(message: Mapping[str, Any]) -> Mapping[str, Any]:
    body = message.get("o")
    if not isinstance(body, Mapping):
        raise Malformed("missing 'o'")
    return body


def _time(value: object, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Malformed(f"{what}: missing time")
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _symbol(raw: Mapping[str, Any], symbol_of: SymbolOf) -> tuple[str, str]:
    market_id = str(raw.get("s") or "")
    found = symbol_of(market_id)
    if found is None:
        raise Malformed(f"unknown market {market_id!r}")
    return found


def _account_update(message: Mapping[str, Any], symbol_of: SymbolOf) -> StreamBatch:
    at = _time(message.get("E"), "ACCOUNT_UPDATE")
    data = message.get("a")
    rows = data.get("P") if isinstance(data, Mapping) else None
    if not isinstance(rows, list):
        raise Malformed("ACCOUNT_UPDATE without 'a.P'")
    reports = []
    for row in rows:
        symbol, _ = _symbol(row, symbol_of)
        leg_text = str(row.get("ps"))
        if leg_text not in _LEGS:
            raise Malformed(f"position side {leg_text!r}")
        amount = to_decimal(row.get("pa"), f"{symbol} position amount")
        entry = optional_decimal(row.get("ep"), f"{symbol} entry") or ZERO
        leg = _LEGS[leg_text]
        reports.append(PositionReport(symbol, leg, abs(amount) if leg else amount, entry, at,
                                      _mark(row, amount, entry, symbol)))
    return StreamBatch(positions=tuple(reports))


def _mark(row: Mapping[str, Any], amount: Decimal, entry: Decimal, symbol: str
          ) -> Decimal | None:
    """The mark the leg's unrealized P&L was taken at: ``up`` = (mark - ``ep``) x signed
    ``pa``. The event names no mark; without one, /positions and a percent /sl would wait for
    the next poll."""
    unrealized = optional_decimal(row.get("up"), f"{symbol} unrealized P&L")
    if unrealized is None or amount == ZERO or entry == ZERO:
        return None
    mark = entry + unrealized / amount
    return mark if mark > ZERO else None


def _side(raw: Mapping[str, Any]) -> OrderSide:
    side = str(raw.get("S", "")).lower()
    if side not in ("buy", "sell"):
        raise Malformed(f"order side {raw.get('S')!r}")
    return OrderSide(side)


def _order_update(o: Mapping[str, Any], symbol_of: SymbolOf) -> StreamBatch:
    symbol, settle = _symbol(o, symbol_of)
    order_id = str(o["i"])
    status = _ORDER_STATUS.get(str(o.get("X")))
    if status is None:
        raise Malformed(f"order status {o.get('X')!r}")
    leg = _LEGS.get(str(o.get("ps")))
    client_id = o.get("c")
    order = Order(
        id=order_id, symbol=symbol, side=_side(o), type=str(o.get("o", "unknown")).lower(),
        status=status, amount=to_decimal(o.get("q"), f"order {order_id} amount"),
        filled=optional_decimal(o.get("z"), f"order {order_id} filled") or ZERO,
        price=optional_decimal(o.get("p"), f"order {order_id} price", zero_is_none=True),
        trigger_price=optional_decimal(o.get("sp"), f"order {order_id} stop", zero_is_none=True),
        reduce_only=o.get("R") is True, position_side=leg,
        client_order_id=client_id if isinstance(client_id, str) and client_id else None,
        timestamp=_time(o.get("T"), f"order {order_id}"),
    )
    fills: tuple[Fill, ...] = ()
    if o.get("x") == "TRADE":
        fee = ZERO
        if o.get("N") in (None, settle):  # a fee in another asset (BNB) cannot be priced here
            fee = optional_decimal(o.get("n"), f"order {order_id} commission") or ZERO
        fills = (Fill(
            id=str(o["t"]), order_id=order_id, symbol=symbol, side=order.side,
            amount=to_decimal(o.get("l"), f"fill of {order_id} amount"),
            price=to_decimal(o.get("L"), f"fill of {order_id} price"), fee=fee,
            timestamp=_time(o.get("T"), f"fill of {order_id}"), position_side=leg),)
    return StreamBatch(fills=fills, orders=(order,))


def _algo_update(o: Mapping[str, Any], message: Mapping[str, Any],
                 symbol_of: SymbolOf) -> Order:
    symbol, _ = _symbol(o, symbol_of)
    algo_id = str(o["aid"])
    status = _ALGO_STATUS.get(str(o.get("X")))
    if status is None:
        raise Malformed(f"algo status {o.get('X')!r}")
    actual = o.get("ai")
    client_id = o.get("caid")
    return Order(
        id=algo_id, symbol=symbol, side=_side(o), type=str(o.get("o", "unknown")).lower(),
        status=status, amount=to_decimal(o.get("q"), f"algo {algo_id} quantity"),
        trigger_price=optional_decimal(o.get("tp"), f"algo {algo_id} trigger", zero_is_none=True),
        reduce_only=o.get("R") is True, is_stop=True, position_side=_LEGS.get(str(o.get("ps"))),
        client_order_id=client_id if isinstance(client_id, str) and client_id else None,
        triggered_order_id=str(actual) if actual not in (None, "", 0, "0") else None,
        timestamp=_time(message.get("E") or message.get("T"), f"algo {algo_id}"),
    )
