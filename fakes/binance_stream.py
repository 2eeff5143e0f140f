"""Binance USDⓈ-M's user-data stream for the fake server: listen keys and the WebSocket.

``POST/PUT/DELETE /fapi/v1/listenKey`` (API key only, no signature, as on Binance) manage one
key at a time: a POST returns the live key (extending it) or a new one; a PUT of a key that
expired answers ``-1125``. The socket is served where ccxt.pro 4.5 dials it,
``/private/ws?listenKey=K``, and at the older ``/ws/K``. Events are built from the paper
venue's own events in Binance's field names: ``ACCOUNT_UPDATE`` (in hedge mode with the zero
``BOTH`` entry Binance adds), ``ORDER_TRADE_UPDATE`` (``x`` = ``TRADE`` carries the fill;
a fired stop's order, from its NEW on, has the stop's client id and ``ot`` = ``STOP_MARKET``)
and ``ALGO_UPDATE`` for conditional orders (``TRIGGERED`` with ``ai`` before the order it
placed, then ``FINISHED``). The
figures are the venue's own: a fill's ``rp`` is the gross P&L it realized, ``ACCOUNT_UPDATE``
carries the wallet after it (``wb``; ``cw`` the same, every position being cross; ``bc`` 0, a
fill changing the wallet only by P&L and commission) and each leg's unrealized P&L at the mark.

Faults (``StreamFaults``): ``drop`` closes every socket; ``silence`` stops events and pong
answers (a half-open socket); ``delay`` holds each event; ``duplicate`` sends each of the next
events twice; ``lose`` never sends the next events (the socket stays healthy); ``refuse``
refuses the next handshakes; ``expire`` sends ``listenKeyExpired`` and then, like Binance, keeps
the socket open and silent (its pings still answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from positionbot.fakes.binance_wire import BinanceApiError, market_id, num, position_side_text
from positionbot.tracker.core.models import (
    ZERO,
    Fill,
    Order,
    OrderStatus,
    PositionMode,
    Side,
)
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.events import (
    FillBooked,
    OrderChanged,
    PositionChanged,
    VenueEvent,
)
from positionbot.tracker.exchange.paper.ledger import pnl_at

LISTEN_KEY_PATH = "/fapi/v1/listenKey"
WS_PATHS = ("/private/ws", "/ws/{key}", "/private/ws/{key}")
_ORDER_STATUS = {OrderStatus.OPEN: "NEW", OrderStatus.CLOSED: "FILLED",
                 OrderStatus.CANCELED: "CANCELED", OrderStatus.EXPIRED: "EXPIRED",
                 OrderStatus.REJECTED: "REJECTED"}
_EXECUTION = {OrderStatus.OPEN: "NEW", OrderStatus.CANCELED: "CANCELED",
              OrderStatus.EXPIRED: "EXPIRED", OrderStatus.REJECTED: "REJECTED",
              OrderStatus.CLOSED: "TRADE"}


@dataclass
class StreamFaults:
    silent: bool = False  # no events, no pongs (a half-open connection)
    delay: float = 0.0  # seconds each event is held back
    duplicate: int = 0  # the next this many events are sent twice
    lose: int = 0  # the next this many events are never sent (pings still answered)
    refuse: int = 0  # the next this many handshakes are refused (HTTP 400)


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    key: str
    queue: asyncio.Queue[tuple[float, str]] = field(default_factory=asyncio.Queue)
    expired: bool = False


class UserDataStream:
    """The user-data stream of the account a ``BinanceServer`` serves."""

    def __init__(self, venue: PaperExchange, *, key_ttl: float = 3600.0) -> None:
        self.venue = venue
        self.key_ttl = key_ttl
        self.faults = StreamFaults()
        self.keepalives = 0  # PUTs that kept a live key
        self.keys_created = 0
        self.connections = 0  # handshakes accepted
        self.events_sent = 0
        self._key: str | None = None
        self._key_until = 0.0
        self._sockets: list[_Socket] = []
        self._fills: dict[str, tuple[Fill, Decimal]] = {}  # booked (with the P&L it realized),
        # waiting for their order's update
        # The venue's running realized P&L per symbol as of the last fill seen: a fill's own
        # is the step it makes.
        self._realized = {symbol: venue.realized_pnl(symbol) for symbol in venue.markets}
        self._stop_of: dict[str, Order] = {}  # a fired stop's order id -> the stop
        self._held: Order | None = None  # a market order's NEW, until the next venue event
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] = venue.events.subscribe(self._on_venue_event)

    # --- controls ------------------------------------------------------------------------------

    @property
    def listen_key(self) -> str | None:
        return self._key

    @property
    def open_sockets(self) -> int:
        return sum(not s.ws.closed for s in self._sockets)

    async def drop(self) -> None:
        """Close every socket from the server side (ccxt.pro raises NetworkError in watch_*)."""
        for sock in list(self._sockets):
            await sock.ws.close(code=1001, message=b"fake Binance: dropped")

    def expire(self) -> None:
        """The key expires now: ``listenKeyExpired`` is sent, the sockets stay open and silent."""
        key = self._key
        self._key = None
        for sock in self._sockets:
            if sock.key == key and not sock.expired:
                sock.expired = True
                self._put(sock, json.dumps({"e": "listenKeyExpired", "E": self._ms(),
                                            "listenKey": key}))

    def close(self) -> None:
        self._unsubscribe()
        for task in self._tasks:
            task.cancel()

    # --- REST: listen keys -----------------------------------------------------------------------

    def listen_key_request(self, method: str) -> dict[str, Any]:
        self._check_expiry()
        if method == "POST":
            if self._key is None:
                self._key = secrets.token_urlsafe(48)
                self.keys_created += 1
            self._key_until = time.monotonic() + self.key_ttl
            return {"listenKey": self._key}
        if method == "PUT":
            if self._key is None:
                raise BinanceApiError(-1125, "This listenKey does not exist.")
            self._key_until = time.monotonic() + self.key_ttl
            self.keepalives += 1
            return {"listenKey": self._key}
        if method == "DELETE":
            self._key = None
            return {}
        raise BinanceApiError(-1000, f"fake Binance: {method} {LISTEN_KEY_PATH}")

    def _check_expiry(self) -> None:
        if self._key is not None and time.monotonic() >= self._key_until:
            self.expire()

    # --- the WebSocket ---------------------------------------------------------------------------

    async def handle_socket(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info.get("key") or request.query.get("listenKey", "")
        self._check_expiry()
        if self.faults.refuse > 0:
            self.faults.refuse -= 1
            return web.json_response({"code": -1000, "msg": "fake Binance: refused"}, status=400)
        if not key or key != self._key:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."},
                                     status=400)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        sock = _Socket(ws, key)
        self._sockets.append(sock)
        self.connections += 1
        sender = asyncio.create_task(self._send_loop(sock))
        self._tasks.add(sender)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.PING and not self.faults.silent:
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.CLOSE:
                    break
        finally:
            sender.cancel()
            self._tasks.discard(sender)
            self._sockets.remove(sock)
        return ws

    async def _send_loop(self, sock: _Socket) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                due, text = await sock.queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self.faults.silent or sock.ws.closed:
                    continue
                await sock.ws.send_str(text)
                self.events_sent += 1

    def _put(self, sock: _Socket, text: str) -> None:
        sock.queue.put_nowait((time.monotonic() + self.faults.delay, text))

    def _broadcast(self, payload: dict[str, Any]) -> None:
        self._check_expiry()
        if self.faults.lose > 0:
            self.faults.lose -= 1
            return
        text = json.dumps(payload)
        times = 1
        if self.faults.duplicate > 0:
            self.faults.duplicate -= 1
            times = 2
        for sock in self._sockets:
            if sock.expired or sock.ws.closed:
                continue
            for _ in range(times):
                self._put(sock, text)

    # --- venue events -> Binance events ----------------------------------------------------------

    def _ms(self) -> int:
        return int(self.venue.now().timestamp() * 1000)

    def _on_venue_event(self, event: VenueEvent) -> None:
        """A new market order's NEW waits for the venue's next event: when that is the stop
        it came from firing, the stop's ``TRIGGERED`` goes first (placed in the matching engine)
        and the order's NEW carries the stop's client id and ``ot`` = ``STOP_MARKET``."""
        held, self._held = self._held, None
        if held is not None:
            if (isinstance(event, OrderChanged) and event.order.is_stop
                    and event.order.triggered_order_id == held.id):
                self._broadcast(self._algo_update(event.order))
                self._broadcast(self._order_update(held, None))
                return
            self._broadcast(self._order_update(held, None))
        if isinstance(event, FillBooked):
            symbol = event.fill.symbol
            realized = self.venue.realized_pnl(symbol)
            self._fills[event.fill.order_id] = (event.fill, realized - self._realized[symbol])
            self._realized[symbol] = realized
        elif isinstance(event, PositionChanged):
            self._broadcast(self._account_update(event))
        elif event.order.is_stop:
            self._broadcast(self._algo_update(event.order))
        elif (event.order.status is OrderStatus.OPEN and event.order.type == "market"
              and event.order.filled == ZERO):
            self._held = event.order  # (a market order's fill or expiry follows at once)
        else:
            booked = self._fills.pop(event.order.id, None)
            self._broadcast(self._order_update(event.order, booked))
            stop = self._stop_of.get(event.order.id)
            if stop is not None and event.order.status is not OrderStatus.OPEN:
                del self._stop_of[event.order.id]
                self._broadcast(self._algo_update(stop, finished=True))

    def _symbol_id(self, symbol: str) -> str:
        return market_id(self.venue.markets[symbol])

    def _account_update(self, event: PositionChanged) -> dict[str, Any]:
        hedge = self.venue.mode is PositionMode.HEDGE
        sid = self._symbol_id(event.symbol)
        market = self.venue.markets[event.symbol]
        try:
            mark: Decimal | None = self.venue.mark(event.symbol)
        except KeyError:  # a limit filled with no mark set: no unrealized P&L to tell
            mark = None

        def row(ps: str, side: Side, size: Decimal, entry: Decimal) -> dict[str, Any]:
            # Binance signs hedge legs too: a SHORT leg's ``pa`` is negative.
            up = ZERO if mark is None else pnl_at(side, entry, mark, size, market.contract_size)
            return self._position_row(sid, ps, size if side is Side.LONG else -size, entry, up)

        rows = []
        if hedge:
            rows.append(self._position_row(sid, "BOTH", ZERO, ZERO, ZERO))
            rows += [row(side.value.upper(), side, size, entry)
                     for side, size, entry in event.legs]
        else:
            held = [(side, size, entry) for side, size, entry in event.legs if size > ZERO]
            rows.append(row("BOTH", *held[0]) if held
                        else self._position_row(sid, "BOTH", ZERO, ZERO, ZERO))
        wallet = num(self.venue.initial_wallet + self.venue.income.total)
        now = self._ms()
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": "ORDER", "B": [{"a": market.settle, "wb": wallet, "cw": wallet, "bc": "0"}],
            "P": rows}}

    @staticmethod
    def _position_row(sid: str, ps: str, amount: Decimal, entry: Decimal,
                      unrealized: Decimal) -> dict[str, Any]:
        return {"s": sid, "pa": num(amount), "ep": num(entry), "bep": num(entry), "cr": "0",
                "up": num(unrealized), "mt": "cross", "iw": "0", "ps": ps, "ma": "USDT"}

    def _order_update(self, order: Order, booked: tuple[Fill, Decimal] | None) -> dict[str, Any]:
        stop = self._stop_of.get(order.id)
        kind = order.type.upper()
        client_id = (stop.client_order_id if stop is not None else order.client_order_id) \
            or f"web_{order.id}"
        status = _ORDER_STATUS.get(order.status, "EXPIRED")
        if status == "NEW" and order.filled > ZERO:
            status = "PARTIALLY_FILLED"
        execution = "TRADE" if booked is not None else _EXECUTION.get(order.status, "NEW")
        now = self._ms()
        body = {
            "s": self._symbol_id(order.symbol), "c": client_id, "S": order.side.value.upper(),
            "o": kind, "f": "GTC", "q": num(order.amount), "p": num(order.price), "ap": "0",
            "sp": "0", "x": execution, "X": status, "i": int(order.id), "l": "0",
            "z": num(order.filled), "L": "0", "T": now, "t": 0, "b": "0", "a": "0", "m": False,
            "R": order.reduce_only, "wt": "CONTRACT_PRICE",
            "ot": "STOP_MARKET" if stop is not None else kind,
            "ps": position_side_text(order.position_side), "cp": False, "rp": "0",
            "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0,
        }
        if booked is not None:
            fill, realized = booked
            body.update({"l": num(fill.amount), "L": num(fill.price), "ap": num(fill.price),
                         "N": self.venue.markets[order.symbol].settle, "n": num(fill.fee),
                         "t": int(fill.id), "T": int(fill.timestamp.timestamp() * 1000),
                         "rp": num(realized)})
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": body}

    def _algo_update(self, order: Order, *, finished: bool = False) -> dict[str, Any]:
        if order.status is OrderStatus.TRIGGERED and order.triggered_order_id is not None:
            self._stop_of[order.triggered_order_id] = order
        status = _ORDER_STATUS.get(order.status, "EXPIRED")
        if order.status is OrderStatus.TRIGGERED:
            status = "FINISHED" if finished else "TRIGGERED"
        now = self._ms()
        return {"e": "ALGO_UPDATE", "T": now, "E": now, "o": {
            "caid": order.client_order_id or f"web_{order.id}", "aid": int(order.id),
            "at": "CONDITIONAL", "o": order.type.upper(), "s": self._symbol_id(order.symbol),
            "S": order.side.value.upper(), "ps": position_side_text(order.position_side),
            "f": "GTC", "q": num(order.amount), "X": status,
            "ai": order.triggered_order_id or "", "ap": "0", "aq": "0", "act": "0",
            "tp": num(order.trigger_price), "p": "0", "V": "EXPIRE_MAKER",
            "wt": "CONTRACT_PRICE", "pm": "NONE", "cp": False, "pP": False,
            "R": order.reduce_only and order.position_side is None, "tt": 0, "gtd": 0}}
