"""What the Bybit and OKX fakes share: the aiohttp plumbing, request counting and logging,
queued faults (``binance_faults.Fault``, which is not Binance-specific), and the per-fill
realized P&L and per-order average price replayed from the paper venue's fills.

Each exchange's server supplies its routes, its authentication check and its error body; the
wire shapes live in ``<exchange>_wire`` and the endpoint logic in ``<exchange>_venue``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from positionbot.fakes.binance_stream import StreamFaults
from positionbot.fakes.local_server import LocalServer, SocketHandler
from positionbot.tracker.core.models import ZERO, Side
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.ledger import PositionLedger

MAX_TRACKED = 100_000

Handler = Callable[[Mapping[str, str]], Any]


class WireError(Exception):
    """An exchange error to answer with ``body`` and HTTP ``status``."""

    def __init__(self, body: Mapping[str, Any], status: int = 200) -> None:
        super().__init__(json.dumps(body))
        self.body = dict(body)
        self.status = status


class FillReplay:
    """Per-fill gross P&L and per-order filled quantity and quote, replayed on a ledger of the
    venue's kind as fills appear (exchanges report both; the venue keeps only totals)."""

    def __init__(self, venue: PaperExchange) -> None:
        self._venue = venue
        self._shadow = PositionLedger(venue.mode)
        self._last = 0
        self.pnl: OrderedDict[str, Decimal] = OrderedDict()
        self.closed: OrderedDict[str, Decimal] = OrderedDict()  # how much of each fill closed
        self.orders: OrderedDict[str, tuple[Decimal, Decimal]] = OrderedDict()

    def seed(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        self._venue.open_position(symbol, side, size, price)
        self._shadow.set(symbol, side, size, price)

    def sync(self) -> None:
        for fill in self._venue.fills:
            if int(fill.id) <= self._last:
                continue
            market = self._venue.markets[fill.symbol]
            reducible = self._shadow.reducible(fill.symbol, fill.side, fill.position_side)
            _remember(self.closed, fill.id, min(fill.amount, reducible))
            pnl = self._shadow.apply(fill.symbol, fill.side, fill.amount, fill.price,
                                     market.contract_size, fill.position_side)
            _remember(self.pnl, fill.id, pnl)
            qty, quote = self.orders.get(fill.order_id, (ZERO, ZERO))
            _remember(self.orders, fill.order_id, (qty + fill.amount, quote + fill.amount * fill.price))
            self._last = int(fill.id)

    def avg_price(self, order_id: str | None) -> Decimal | None:
        if order_id is None:
            return None
        qty, quote = self.orders.get(order_id, (ZERO, ZERO))
        return quote / qty if qty > ZERO else None


def _remember(store: OrderedDict[str, Any], key: str, value: Any) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > MAX_TRACKED:
        store.popitem(last=False)


class WireServer(LocalServer):
    """Serve ``routes`` on 127.0.0.1 (port 0); subclasses check credentials and shape errors.

    Controls: ``faults`` (queued ``Fault``s, one request each), ``requests`` (a count per
    ``"METHOD /path"``), ``log`` (recent requests' parameters), ``bad_api_keys``.
    """

    name = "fake"
    public_prefixes: tuple[str, ...] = ()

    def __init__(self, venue: PaperExchange) -> None:
        super().__init__(venue)
        self.replay = FillReplay(venue)
        self.routes: dict[tuple[str, str], Handler] = {}
        self.sockets: dict[str, SocketHandler] = {}

    # --- hooks -----------------------------------------------------------------------------------

    def authenticate(self, request: web.Request, values: Mapping[str, str]) -> None:
        """Raise ``WireError`` for a missing or refused key."""

    def internal_error(self, exc: Exception) -> WireError:
        return WireError({"error": str(exc)}, status=500)

    # --- controls --------------------------------------------------------------------------------

    def seed_position(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        """Set a position without a fill; use this rather than ``venue.open_position``."""
        self.replay.seed(symbol, side, size, price)

    # --- lifecycle -------------------------------------------------------------------------------

    def _socket_routes(self) -> dict[str, SocketHandler]:
        return self.sockets

    # --- HTTP ------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self._count_request(request.method, path)
        raw_body = await request.text() if request.can_read_body else ""
        values = dict(parse_qsl(request.query_string, keep_blank_values=True))
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = dict(parse_qsl(raw_body, keep_blank_values=True))
            if isinstance(body, list) and body and isinstance(body[0], dict):
                body = body[0]  # OKX's batch endpoints: the gateway sends one order at a time
            if isinstance(body, dict):
                values.update({k: _text(v) for k, v in body.items()})
        self._log_request(request.method, path, values)
        fault = self.faults.take(request.method, path)
        if fault is not None and fault.status is not None:
            if isinstance(fault.body, str):  # an HTML error page from a proxy in front
                return web.Response(status=fault.status, text=fault.body, content_type="text/html")
            return web.json_response(fault.body, status=fault.status)
        handler = self.routes.get((request.method, path))
        if handler is None:
            return web.Response(status=404, text=f"{self.name}: no route {request.method} {path}")
        try:
            if not path.startswith(self.public_prefixes):
                self.authenticate(request, values)
            self.replay.sync()
            payload = handler(values)
        except WireError as exc:
            return web.json_response(exc.body, status=exc.status)
        if fault is not None and fault.transform is not None:
            payload = fault.transform(payload)
        text = json.dumps(payload)
        if fault is not None and fault.truncate:
            text = text[: len(text) // 2]
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        return web.Response(text=text, content_type="application/json")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def num(value: Decimal | None) -> str:
    """Every digit the venue holds; "" for none (as Bybit and OKX write absent figures)."""
    return "" if value is None else format(value, "f")


def decimals_of(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class StreamSocket:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.authed = False
        self.topics: set[str] = set()
        self.queue: asyncio.Queue[tuple[float, str]] = asyncio.Queue()


class SocketServer:
    """A private WebSocket's plumbing: one queue per socket, and ``faults`` as on the Binance
    stream (``silent``: no pushes and no pong answers; ``delay``; ``duplicate``; ``refuse``)."""

    def __init__(self) -> None:
        self.faults = StreamFaults()
        self.events_sent = 0
        self._sockets: list[StreamSocket] = []

    def on_request(self, sock: StreamSocket, text: str) -> str | None:
        """The answer to one client message (login, subscribe, ping), or None."""
        raise NotImplementedError

    async def drop(self) -> None:
        """Close every socket from the server side (ccxt.pro raises NetworkError in watch_*)."""
        for sock in list(self._sockets):
            await sock.ws.close(code=1001, message=b"fake: dropped")

    async def handle_socket(self, request: web.Request) -> web.StreamResponse:
        if self.faults.refuse > 0:
            self.faults.refuse -= 1
            return web.Response(status=400, text="fake: handshake refused")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sock = StreamSocket(ws)
        self._sockets.append(sock)
        sender = asyncio.create_task(self._send_loop(sock))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    answer = self.on_request(sock, msg.data)
                    if answer is not None and not self.faults.silent:
                        sock.queue.put_nowait((0.0, answer))
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            sender.cancel()
            self._sockets.remove(sock)
        return ws

    def push(self, topic: str, text: str) -> None:
        """Queue ``text`` for every socket subscribed to ``topic``."""
        targets = [sock for sock in self._sockets if topic in sock.topics and not sock.ws.closed]
        if self.faults.silent or not targets:
            return
        times = 1
        if self.faults.duplicate > 0:
            self.faults.duplicate -= 1
            times = 2
        due = time.monotonic() + self.faults.delay
        for sock in targets:
            for _ in range(times):
                sock.queue.put_nowait((due, text))
                self.events_sent += 1

    async def _send_loop(self, sock: StreamSocket) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                due, text = await sock.queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not sock.ws.closed and not self.faults.silent:
                    await sock.ws.send_str(text)
