"""OKX v5's private streams -> the core's stream types, exactly, from the raw strings.

The session: two sockets, each with its own ``{"op": "login"}`` (ccxt.pro signs it):
``/ws/v5/private`` carries ``positions`` and ``orders``, ``/ws/v5/business`` carries
``orders-algo`` (where stop losses live, as ``conditional`` algo orders). The session is ready
once OKX acknowledged all three subscriptions (one request each).

- ``positions``: sizes in contracts (``pos``; the base amount is contracts × ``ctVal``, which
  the market's contract size supplies), signed in net mode (``posSide`` ``net``), per leg in
  long/short mode. OKX pushes on change and, besides, snapshots of the open positions (at
  subscription and every few seconds unless ``updateInterval`` is 0, which is asked): a row is
  a statement about its leg only, a closed leg is stated only by a row with ``pos`` "0", and a
  row repeating the last one (same size, price and ``uTime``) is dropped.
- ``orders``: an order's state, and with a non-empty ``tradeId`` the fill of that update
  (``fillSz``, ``fillPx``, ``fillFee`` negative when charged, ``fillTime``) — OKX's separate
  ``fills`` channel is for VIP 6 and above, and ccxt.pro does not watch it. An order a stop
  placed when it fired names it (``algoId``): the stop is reported fired from that as well,
  whichever socket speaks first.
- ``orders-algo``: ``live`` -> ``effective`` (fired; ``ordId`` is the order it became) or
  ``canceled``; ``order_failed`` is a stop that fired but placed nothing.

Rows of other instrument types (spot, margin, options) are skipped; anything unreadable is a gap.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from typing import Any

from positionbot.tracker.core.models import ZERO, Fill, Order, OrderStatus, Side
from positionbot.tracker.core.stream_events import PositionReport, StreamBatch
from positionbot.tracker.engine.stream_port import StreamLost
from positionbot.tracker.exchange.ccxt.binance_events import SymbolOf
from positionbot.tracker.exchange.ccxt.dialect_okx import Okx
from positionbot.tracker.exchange.ccxt.normalize import Malformed, optional_decimal, to_decimal
from positionbot.tracker.exchange.ccxt.stream_session import (
    StreamSession,
    clients_at,
    data_rows,
    ms_time,
    order_side,
)

PRIVATE = ({"channel": "positions", "instType": "ANY",
            "extraParams": '{"updateInterval": "0"}'},
           {"channel": "orders", "instType": "ANY"})
BUSINESS = ({"channel": "orders-algo", "instType": "ANY"},)
CHANNELS = frozenset({"positions", "orders", "orders-algo"})
_CONTRACTS = ("SWAP", "FUTURES")
_LEGS = {"net": None, "long": Side.LONG, "short": Side.SHORT}
_STATUS = {"live": OrderStatus.OPEN, "partially_filled": OrderStatus.OPEN,
           "filled": OrderStatus.CLOSED, "canceled": OrderStatus.CANCELED,
           "mmp_canceled": OrderStatus.CANCELED}
_ALGO_STATUS = {"live": OrderStatus.OPEN, "pause": OrderStatus.OPEN,
                "partially_effective": OrderStatus.TRIGGERED, "effective": OrderStatus.TRIGGERED,
                "canceled": OrderStatus.CANCELED, "order_failed": OrderStatus.EXPIRED,
                "partially_failed": OrderStatus.EXPIRED}
_REMEMBERED_LEGS = 20_000


class OkxSession(StreamSession):
    """OKX v5: a login and subscriptions on the private and the business socket."""

    def __init__(self, account: str, symbol_of: SymbolOf) -> None:
        super().__init__(account, symbol_of)
        self._ids = Okx()
        self._acked: set[str] = set()
        self._last: OrderedDict[tuple[str, str, str], tuple[str, str, str]] = OrderedDict()

    def reset(self, exchange: Any) -> None:
        self._acked.clear()
        self._last.clear()

    @staticmethod
    def _urls(exchange: Any) -> tuple[str, str]:
        return exchange.get_url("positions", "private"), exchange.get_url("orders-algo",
                                                                          "business")

    def watches(self, exchange: Any) -> list[Coroutine[Any, Any, None]]:
        private, business = self._urls(exchange)
        return [self._follow(exchange, "private", private, PRIVATE),
                self._follow(exchange, "business", business, BUSINESS)]

    @staticmethod
    async def _follow(exchange: Any, access: str, url: str,
                      args: tuple[dict[str, str], ...]) -> None:
        """One request per channel, so each is acknowledged on its own whatever the server
        does with several."""
        await exchange.authenticate({"access": access})
        await asyncio.gather(*(
            exchange.watch(url, f"positionbot:{a['channel']}", {"op": "subscribe", "args": [a]},
                           f"positionbot:{a['channel']}") for a in args))

    def clients(self, exchange: Any) -> list[Any]:
        return clients_at(exchange, list(self._urls(exchange)))

    def ready(self, exchange: Any) -> bool:
        return self._acked >= CHANNELS

    def read(self, message: Any) -> tuple[StreamBatch | None, bool]:
        if not isinstance(message, Mapping):
            return None, True  # "pong"
        event = message.get("event")
        arg = message.get("arg")
        channel = arg.get("channel") if isinstance(arg, Mapping) else None
        if event is None and channel in CHANNELS:
            try:
                return self._read(str(channel), message), False
            except (Malformed, KeyError, ValueError, TypeError) as e:
                return StreamBatch(gap=f"okx: unreadable {channel} event: {e}"), False
        if event == "subscribe" and isinstance(channel, str):
            self._acked.add(channel)
        elif event == "notice":  # e.g. 64008: this connection closes soon (service upgrade)
            raise StreamLost(f"okx: {message.get('msg') or 'notice'} ({message.get('code')})")
        return None, True

    def _read(self, channel: str, message: Mapping[str, Any]) -> StreamBatch:
        rows = [r for r in data_rows(message) if r.get("instType") in _CONTRACTS]
        if channel == "positions":
            reports = (self._position(r) for r in rows)
            return StreamBatch(positions=tuple(r for r in reports if r is not None))
        if channel == "orders-algo":
            return StreamBatch(orders=tuple(self._algo(r) for r in rows))
        fills: list[Fill] = []
        orders: list[Order] = []
        for row in rows:
            order, fill, fired = self._order(row)
            orders += [o for o in (fired, order) if o is not None]
            fills += [fill] if fill is not None else []
        return StreamBatch(fills=tuple(fills), orders=tuple(orders))

    def _symbol(self, row: Mapping[str, Any]) -> tuple[str, str]:
        return self.known_market(str(row.get("instId") or ""))

    @staticmethod
    def _leg(row: Mapping[str, Any], what: str) -> Side | None:
        text = str(row.get("posSide") or "net")
        if text not in _LEGS:
            raise Malformed(f"{what}: posSide {text!r}")
        return _LEGS[text]

    def _position(self, row: Mapping[str, Any]) -> PositionReport | None:
        symbol, _ = self._symbol(row)
        leg = self._leg(row, symbol)
        amount = to_decimal(row.get("pos"), f"{symbol} position")
        if leg is not None:
            amount = abs(amount)
        stamp = row.get("uTime") or row.get("pTime")
        seen = (str(row.get("pos")), str(row.get("avgPx")), str(stamp))
        key = (symbol, str(row.get("posSide")), str(row.get("mgnMode")))
        if self._last.get(key) == seen:
            return None  # a periodic snapshot repeating what was said
        self._last[key] = seen
        self._last.move_to_end(key)
        while len(self._last) > _REMEMBERED_LEGS:
            self._last.popitem(last=False)
        entry = optional_decimal(row.get("avgPx"), f"{symbol} entry") or ZERO
        mark = optional_decimal(row.get("markPx"), f"{symbol} mark", zero_is_none=True)
        return PositionReport(symbol, leg, amount, entry, ms_time(stamp, f"{symbol} position"),
                              mark)

    def _order(self, row: Mapping[str, Any]) -> tuple[Order, Fill | None, Order | None]:
        symbol, settle = self._symbol(row)
        order_id = str(row["ordId"])
        what = f"order {order_id}"
        status = _state(row, _STATUS, what)
        side = order_side(row.get("side"), what)
        leg = self._leg(row, what)
        at = ms_time(row.get("uTime") or row.get("cTime"), what)
        order = Order(
            id=order_id, symbol=symbol, side=side, type=str(row.get("ordType") or "unknown"),
            status=status, amount=to_decimal(row.get("sz"), f"{what} size"),
            filled=optional_decimal(row.get("accFillSz"), f"{what} filled") or ZERO,
            price=optional_decimal(row.get("px"), f"{what} price", zero_is_none=True),
            reduce_only=row.get("reduceOnly") in (True, "true"), position_side=leg,
            client_order_id=self._ids.client_id_in(row.get("clOrdId") or None), timestamp=at)
        fill = None
        trade_id = row.get("tradeId")
        size = optional_decimal(row.get("fillSz"), f"{what} fill size") or ZERO
        if trade_id not in (None, "") and size > ZERO:
            fee = ZERO
            if row.get("fillFeeCcy") in (None, "", settle):  # another asset cannot be priced
                fee = -(optional_decimal(row.get("fillFee"), f"{what} fill fee") or ZERO)
            fill = Fill(id=str(trade_id), order_id=order_id, symbol=symbol, side=side,
                        amount=size, price=to_decimal(row.get("fillPx"), f"{what} fill price"),
                        fee=fee, timestamp=ms_time(row.get("fillTime") or row.get("uTime"), what),
                        position_side=leg)
        fired = None
        algo_id = row.get("algoId")
        if algo_id not in (None, ""):  # placed by a stop that fired
            fired = Order(
                id=str(algo_id), symbol=symbol, side=side, type="conditional",
                status=OrderStatus.TRIGGERED, amount=order.amount, reduce_only=True,
                is_stop=True, position_side=leg, triggered_order_id=order_id, timestamp=at,
                client_order_id=self._ids.client_id_in(row.get("algoClOrdId") or None))
        return order, fill, fired

    def _algo(self, row: Mapping[str, Any]) -> Order:
        symbol, _ = self._symbol(row)
        algo_id = str(row["algoId"])
        what = f"algo order {algo_id}"
        status = _state(row, _ALGO_STATUS, what)
        trigger = None
        for key in ("slTriggerPx", "triggerPx", "tpTriggerPx"):
            trigger = optional_decimal(row.get(key), f"{what} trigger", zero_is_none=True)
            if trigger is not None:
                break
        child = row.get("ordId")
        if child in (None, "") and isinstance(row.get("ordIdList"), list) and row["ordIdList"]:
            child = row["ordIdList"][0]
        return Order(
            id=algo_id, symbol=symbol, side=order_side(row.get("side"), what),
            type=str(row.get("ordType") or "conditional"), status=status,
            amount=to_decimal(row.get("sz"), f"{what} size"),
            filled=optional_decimal(row.get("actualSz"), f"{what} filled") or ZERO,
            trigger_price=trigger, reduce_only=row.get("reduceOnly") in (True, "true"),
            is_stop=True, position_side=self._leg(row, what),
            client_order_id=self._ids.client_id_in(row.get("algoClOrdId") or None),
            triggered_order_id=str(child) if status is OrderStatus.TRIGGERED
            and child not in (None, "", "0") else None,
            timestamp=ms_time(row.get("uTime") or row.get("cTime"), what))


def _state(row: Mapping[str, Any], states: Mapping[str, OrderStatus], what: str) -> OrderStatus:
    """An order's or algo order's ``state``; a word we do not know makes the row unreadable."""
    status = states.get(str(row.get("state")))
    if status is None:
        raise Malformed(f"{what}: state {row.get('state')!r}")
    return status
