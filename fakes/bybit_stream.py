"""Bybit v5's private WebSocket (``/v5/private``) for the fake server, as ccxt.pro 4.5 uses it.

``{"op": "auth", "args": [key, expires, signature]}`` then ``{"op": "subscribe", "args":
["position", "order", "execution"]}``; pushes ``{"topic", "id", "creationTime", "data": [...]}``
built from the paper venue's events in Bybit's field names: ``position`` (one row per leg, an
emptied leg with size "0"), ``order`` (conditional orders included; a fired stop keeps its id,
``Triggered`` then ``Filled``) and ``execution`` (``seq``, ``closedSize``, ``execFee``).
``{"op": "ping"}`` is answered with ``ret_msg`` "pong". ``drop()`` closes every socket;
``faults`` as on the Binance stream.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from positionbot.fakes import bybit_wire as wire
from positionbot.fakes.wire_server import FillReplay, SocketServer, StreamSocket, num
from positionbot.tracker.core.models import ZERO, Fill, Order, Position, PositionMode, Side
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.events import (
    FillBooked,
    OrderChanged,
    PositionChanged,
    VenueEvent,
)

PATH = "/v5/private"
TOPICS = frozenset({"position", "order", "execution"})


class BybitStream(SocketServer):
    """The private stream of the account a ``BybitServer`` serves."""

    def __init__(self, venue: PaperExchange, replay: FillReplay, stop_of_child: dict[str, str],
                 bad_keys: set[str]) -> None:
        super().__init__()
        self.venue = venue
        self._replay = replay
        self._stop_of_child = stop_of_child
        self._bad_keys = bad_keys
        self._seq = 0
        self._unsubscribe: Callable[[], None] = venue.events.subscribe(self._on_venue_event)

    def close(self) -> None:
        self._unsubscribe()

    def on_request(self, sock: StreamSocket, text: str) -> str | None:
        try:
            request = json.loads(text)
        except ValueError:
            return None
        op = request.get("op")
        answer: dict[str, Any] = {"success": True, "ret_msg": "", "conn_id": "fake",
                                  "req_id": request.get("req_id", ""), "op": op}
        if op == "auth":
            args = request.get("args") or []
            ok = len(args) == 3 and bool(args[0]) and args[0] not in self._bad_keys
            sock.authed = ok
            answer.update(success=ok, ret_msg="" if ok else "Invalid apikey")
        elif op == "subscribe":
            wanted = set(request.get("args") or [])
            ok = sock.authed and wanted <= TOPICS
            if ok:
                sock.topics |= wanted
            answer.update(success=ok, ret_msg="" if ok else "Request not authorized")
        elif op == "ping":
            answer.update(ret_msg="pong")
        else:
            answer.update(success=False, ret_msg=f"fake Bybit: unknown op {op!r}")
        return json.dumps(answer)

    def _push(self, topic: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.push(topic, json.dumps({"id": str(uuid.uuid4()), "topic": topic,
                                         "creationTime": wire.now_ms(), "data": rows}))

    # --- venue events -> Bybit pushes --------------------------------------------------------

    def _on_venue_event(self, event: VenueEvent) -> None:
        """Pushed once the venue's step is over, so a fired stop's new order is known as the
        stop's before anything about it goes out."""
        if isinstance(event, OrderChanged) and event.order.is_stop and \
                event.order.triggered_order_id:
            self._stop_of_child[event.order.triggered_order_id] = event.order.id
        try:
            asyncio.get_running_loop().call_soon(self._emit, event)
        except RuntimeError:  # no loop running: a synchronous caller
            self._emit(event)

    def _emit(self, event: VenueEvent) -> None:
        if isinstance(event, PositionChanged):
            self._push("position", self._positions(event))
        elif isinstance(event, FillBooked):
            self._replay.sync()
            self._push("execution", [self._execution(event.fill)])
        elif isinstance(event, OrderChanged):
            self._push("order", [self._order(event.order)])

    def _positions(self, event: PositionChanged) -> list[dict[str, Any]]:
        """The legs as this change left them (not as they are when the push goes out)."""
        market = self.venue.markets[event.symbol]
        hedge = self.venue.mode is PositionMode.HEDGE
        held = {side: Position(event.symbol, side, size, entry,
                               mark_price=self.venue.mark(event.symbol),
                               contract_size=market.contract_size)
                for side, size, entry in event.legs if size > ZERO}
        legs: list[tuple[int, Side | None]] = [(1, Side.LONG), (2, Side.SHORT)] if hedge \
            else [(0, None)]
        rows = []
        for idx, side in legs:
            position = held.get(side) if side else next(iter(held.values()), None)
            self._seq += 1
            row = wire.position_json(wire.market_id(market), idx, position, leverage=10,
                                     liquidation=None, seq=self._seq)
            row.update(category="linear", entryPrice=row["avgPrice"])
            rows.append(row)
        return rows

    def _order(self, order: Order) -> dict[str, Any]:
        stop_id = self._stop_of_child.get(order.id)
        shown = order
        child = None
        if stop_id is not None:  # Bybit shows a fired stop's order under the stop's id
            stop = self.venue.find_order(order.symbol, order_id=stop_id, stop=True)
            shown, child = (stop, order) if stop is not None else (order, None)
        elif order.is_stop and order.triggered_order_id:
            child = self.venue.find_order(order.symbol, order_id=order.triggered_order_id)
        market = self.venue.markets[order.symbol]
        avg = self._replay.avg_price(child.id if child else shown.id)
        direction = 2 if shown.side.value == "sell" else 1
        row = wire.order_json(shown, wire.market_id(market), child, avg,
                              direction, "MarkPrice")
        row.update(category="linear", closedPnl="0", feeCurrency="")
        return row

    def _execution(self, fill: Fill) -> dict[str, Any]:
        market = self.venue.markets[fill.symbol]
        order_id = self._stop_of_child.get(fill.order_id, fill.order_id)
        order = self.venue.find_order(fill.symbol, order_id=fill.order_id)
        cost = fill.amount * market.contract_size * fill.price
        maker = fill.fee == cost * self.venue.maker_fee_rate != cost * self.venue.taker_fee_rate
        rate = self.venue.maker_fee_rate if maker else self.venue.taker_fee_rate
        row = wire.execution_json(fill, wire.market_id(market), order, order_id,
                                  self._replay.closed.get(fill.id, ZERO), maker, rate,
                                  self.venue.mark(fill.symbol))
        row.update(category="linear", execPnl=num(self._replay.pnl.get(fill.id, ZERO)))
        return row
