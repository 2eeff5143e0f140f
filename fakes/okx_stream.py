"""OKX v5's private WebSockets for the fake server, as ccxt.pro 4.5 uses them: ``/ws/v5/private``
(``positions``, ``orders``) and ``/ws/v5/business`` (``orders-algo``).

``{"op": "login", "args": [{apiKey, passphrase, timestamp, sign}]}`` then ``{"op":
"subscribe", "args": [{"channel": ..., "instType": ...}]}``; pushes ``{"arg": {...}, "data":
[...]}`` built from the paper venue's events in OKX's field names: ``orders`` rows carry the fill
of the update (``tradeId``, ``fillSz``, ``fillPx``, ``fillFee`` negative when charged);
``positions`` rows per leg (a net position that closed arrives as two zero-size rows, as on OKX);
``orders-algo`` rows for stop losses. A ``positions`` subscription is followed by a snapshot of
the open positions, and ``snapshot()`` pushes one again (OKX does so every few seconds unless
asked ``updateInterval`` "0"); ``uTime`` is when the position last changed. The text ``ping``
is answered ``pong``. ``drop()`` and ``faults`` as on the Bybit stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from positionbot.fakes import okx_wire as wire
from positionbot.fakes.wire_server import FillReplay, SocketServer, StreamSocket, num
from positionbot.tracker.core.models import ZERO, Fill, Order, Position, PositionMode
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.events import (
    FillBooked,
    OrderChanged,
    PositionChanged,
    VenueEvent,
)

PRIVATE, BUSINESS = "/ws/v5/private", "/ws/v5/business"
CHANNELS = frozenset({"positions", "orders", "orders-algo"})


class OkxStream(SocketServer):
    """The private and business streams of the account an ``OkxServer`` serves."""

    def __init__(self, venue: PaperExchange, replay: FillReplay, bad_keys: set[str]) -> None:
        super().__init__()
        self.venue = venue
        self._replay = replay
        self._bad_keys = bad_keys
        self._fills: dict[str, Fill] = {}  # booked, waiting for their order's update
        self._stop_of_child: dict[str, Order] = {}
        self._adjusted: dict[str, int] = {}  # symbol -> when its position last changed (ms)
        self._unsubscribe: Callable[[], None] = venue.events.subscribe(self._on_venue_event)

    def close(self) -> None:
        self._unsubscribe()

    def on_request(self, sock: StreamSocket, text: str) -> str | None:
        if text == "ping":
            return "pong"
        try:
            request = json.loads(text)
        except ValueError:
            return None
        op, args = request.get("op"), request.get("args") or []
        if op == "login":
            key = args[0].get("apiKey") if args and isinstance(args[0], dict) else None
            sock.authed = bool(key) and key not in self._bad_keys
            answer = {"event": "login", "code": "0" if sock.authed else "60009",
                      "msg": "" if sock.authed else "Login failed.", "connId": "fake"}
        elif op == "subscribe":
            channels = {a.get("channel") for a in args if isinstance(a, dict)}
            if not sock.authed or not channels <= CHANNELS:
                answer = {"event": "error", "code": "60011", "msg": "Please log in",
                          "connId": "fake"}
            else:
                sock.topics |= {c for c in channels if isinstance(c, str)}
                for arg in args[1:]:  # OKX answers every channel of a request on its own
                    sock.queue.put_nowait((0.0, json.dumps(
                        {"event": "subscribe", "arg": arg, "connId": "fake"})))
                answer = {"event": "subscribe", "arg": args[0], "connId": "fake"}
                if "positions" in channels:  # then the open positions, after the answer
                    asyncio.get_running_loop().call_soon(self._snapshot_to, sock)
        else:
            answer = {"event": "error", "code": "60012", "msg": f"Invalid request: {text}",
                      "connId": "fake"}
        return json.dumps(answer)

    def snapshot(self) -> None:
        """The periodic push: every open position (none that is closed), as they stand."""
        self._push("positions", self._open_rows())

    def _snapshot_to(self, sock: StreamSocket) -> None:
        rows = self._open_rows()
        if rows and not self.faults.silent:
            sock.queue.put_nowait((0.0, self._message("positions", rows)))

    def _open_rows(self) -> list[dict[str, Any]]:
        hedge = self.venue.mode is PositionMode.HEDGE
        rows = []
        for p in self.venue.positions():
            market = self.venue.markets[p.symbol]
            row = wire.position_json(p, wire.market_id(market), hedge=hedge, leverage=10,
                                     liquidation=None, settle=market.settle)
            rows.append(self._stamped(row, self._adjusted.get(p.symbol, wire.now_ms())))
        return rows

    @staticmethod
    def _stamped(row: dict[str, Any], changed_at: int) -> dict[str, Any]:
        row.update(uTime=str(changed_at), pTime=str(wire.now_ms()))
        return row

    @staticmethod
    def _message(channel: str, rows: list[dict[str, Any]]) -> str:
        return json.dumps({"arg": {"channel": channel, "instType": "ANY", "uid": "1"},
                           "data": rows})

    def _push(self, channel: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.push(channel, self._message(channel, rows))

    # --- venue events -> OKX pushes ----------------------------------------------------------

    def _on_venue_event(self, event: VenueEvent) -> None:
        """Pushed once the venue's step is over, when every link between orders is known."""
        if isinstance(event, OrderChanged) and event.order.is_stop and \
                event.order.triggered_order_id:
            self._stop_of_child[event.order.triggered_order_id] = event.order
        if isinstance(event, FillBooked):
            self._fills[event.fill.order_id] = event.fill
        at = wire.now_ms()
        if isinstance(event, PositionChanged):
            self._adjusted[event.symbol] = at
        try:
            asyncio.get_running_loop().call_soon(self._emit, event, at)
        except RuntimeError:
            self._emit(event, at)

    def _emit(self, event: VenueEvent, at: int) -> None:
        if isinstance(event, PositionChanged):
            self._push("positions", self._positions(event, at))
        elif isinstance(event, OrderChanged):
            if event.order.is_stop:
                self._push("orders-algo", [self._algo(event.order)])
            else:
                self._push("orders", [self._order(event.order)])

    def _positions(self, event: PositionChanged, at: int) -> list[dict[str, Any]]:
        """The legs as this change left them (not as they are when the push goes out)."""
        market = self.venue.markets[event.symbol]
        inst = wire.market_id(market)
        hedge = self.venue.mode is PositionMode.HEDGE
        held = [Position(event.symbol, side, size, entry, mark_price=self.venue.mark(event.symbol),
                         contract_size=market.contract_size)
                for side, size, entry in event.legs if size > ZERO]
        rows = [wire.position_json(p, inst, hedge=hedge, leverage=10, liquidation=None,
                                   settle=market.settle) for p in held]
        flat = [side for side, size, _ in event.legs if size == ZERO] if hedge else (
            [] if held else [None, None])
        for side in flat:
            if side is not None and any(p.side is side for p in held):
                continue
            empty = Position(symbol=event.symbol, side=side or event.legs[0][0], size=ZERO,
                             entry_price=ZERO, contract_size=market.contract_size)
            row = wire.position_json(empty, inst, hedge=hedge, leverage=10, liquidation=None,
                                     settle=market.settle)
            row.update(avgPx="", upl="0", markPx=num(self.venue.mark(event.symbol)))
            rows.append(row)
        return [self._stamped(row, at) for row in rows]

    def _order(self, order: Order) -> dict[str, Any]:
        market = self.venue.markets[order.symbol]
        stop = self._stop_of_child.get(order.id)
        fill = self._fills.pop(order.id, None)
        algo = (stop.id, stop.client_order_id or "") if stop is not None else None
        fee = sum((f.fee for f in self.venue.fills if f.order_id == order.id), ZERO)
        row = wire.order_json(order, wire.market_id(market), self._replay.avg_price(order.id),
                              fee, market.settle, order.client_order_id or "", algo)
        if fill is not None:
            self._replay.sync()
            row.update(tradeId=fill.id, fillSz=num(fill.amount), fillPx=num(fill.price),
                       fillFee=num(-fill.fee), fillFeeCcy=market.settle,
                       fillPnl=num(self._replay.pnl.get(fill.id, ZERO)),
                       fillTime=str(int(fill.timestamp.timestamp() * 1000)),
                       execType="T", fillMarkPx=num(self.venue.mark(order.symbol)))
        else:
            row.update(tradeId="", fillSz="0", fillPx="", fillFee="0", fillFeeCcy="")
        return row

    def _algo(self, stop: Order) -> dict[str, Any]:
        market = self.venue.markets[stop.symbol]
        child = self.venue.find_order(stop.symbol, order_id=stop.triggered_order_id) \
            if stop.triggered_order_id else None
        return wire.algo_json(stop, wire.market_id(market), child,
                              self._replay.avg_price(child.id if child else None),
                              stop.client_order_id or "", "mark")
