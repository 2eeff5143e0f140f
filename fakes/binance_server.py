"""A local HTTP server speaking Binance USDⓈ-M futures' wire format, for real ccxt to talk to.

It is a wire adapter over ``tracker.paper.PaperExchange``, which holds the venue's semantics
(weighted entries, one-way and hedge modes, reduce-only, stops firing on the mark into a new
market order, resting and partially filled limits, fees). It serves exactly the endpoints ccxt
4.5's ``binanceusdm`` calls for the gateway, conditional orders living in the Algo service
(``/fapi/v1/algoOrder``, ``/fapi/v1/openAlgoOrders``) as on Binance since December 2025.

Test controls: ``venue`` (move the mark, trade and cancel by hand, force fills),
``seed_position``, ``faults`` (see ``tests.fakes.binance_faults``), ``bad_api_keys``,
``requests`` (a count per ``"METHOD /path"``) and ``log`` (the parameters of recent requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt
from aiohttp import web

from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_stream import LISTEN_KEY_PATH, WS_PATHS, UserDataStream
from positionbot.fakes.binance_venue import BinanceVenue
from positionbot.fakes.binance_wire import BinanceApiError, Params
from positionbot.fakes.local_server import LocalServer, SocketHandler
from positionbot.tracker.core.models import Side
from positionbot.tracker.exchange.paper import PaperExchange

PUBLIC_PATHS = frozenset({"/fapi/v1/ping", "/fapi/v1/time", "/fapi/v1/exchangeInfo",
                          "/fapi/v1/premiumIndex"})


def ccxt_config_for(base_url: str) -> dict[str, Any]:
    """The ``ccxt_config`` that points ccxt's ``binanceusdm`` at a server at ``base_url``.

    Every URL of ``urls['api']`` is moved onto the server, keeping its path, so nothing reaches
    the internet; those used are ``fapiPublic`` and ``fapiPrivate`` (``/fapi/v1``) and
    ``fapiPrivateV3`` (``/fapi/v3``, positions). The server has no weight limits, so ccxt's
    limiter is made near-instant, and there is no TLS session to drain on close.
    """
    urls = ccxt.binanceusdm().urls["api"]
    base = base_url.rstrip("/")
    api: dict[str, Any] = {name: base + urlsplit(url).path for name, url in urls.items()}
    # ccxt.pro dials the user-data stream at ``<ws.linear minus /ws>/private/ws?listenKey=``.
    api["ws"] = {"linear": "ws" + base.removeprefix("http") + "/ws"}
    return {
        "urls": {"api": api},
        "rateLimit": 1,
        "timeout_on_exit": 0,
    }


class BinanceServer(LocalServer):
    """Serve a ``PaperExchange`` on 127.0.0.1 (port 0) as Binance USDⓈ-M futures.

    ``secret`` (optional) makes the server check each request's HMAC signature.
    """

    def __init__(self, venue: PaperExchange, *, secret: str | None = None,
                 leverage: int = 20) -> None:
        super().__init__(venue)
        self._secret = secret
        self._wire = BinanceVenue(venue, leverage=leverage)
        self.stream = UserDataStream(venue)  # listen keys and the user-data WebSocket
        self._late: set[asyncio.Task[None]] = set()

    # --- controls ------------------------------------------------------------------------------

    @property
    def leverage(self) -> dict[str, int]:
        """Leverage per unified symbol (the default applies to others)."""
        return self._wire.leverage

    @property
    def liquidation(self) -> dict[str, Decimal]:
        """Liquidation prices to report per unified symbol (others report "0")."""
        return self._wire.liquidation

    def seed_position(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        """Set a position without a fill; use this rather than ``venue.open_position``."""
        self._wire.seed_position(symbol, side, size, price)

    # --- lifecycle -----------------------------------------------------------------------------

    def _socket_routes(self) -> dict[str, SocketHandler]:
        return dict.fromkeys(WS_PATHS, self.stream.handle_socket)

    async def stop(self) -> None:
        await self.stream.drop()
        self.stream.close()
        for task in self._late:
            task.cancel()
        self._late.clear()
        await super().stop()

    # --- HTTP ----------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self._count_request(request.method, path)
        raw_body = await request.text() if request.can_read_body else ""
        values = dict(parse_qsl(request.query_string, keep_blank_values=True))
        values.update(parse_qsl(raw_body, keep_blank_values=True))
        self._log_request(request.method, path, values)
        fault = self.faults.take(request.method, path)
        handler = self._wire.routes.get((request.method, path))
        if fault is not None and fault.late and handler is not None:
            task = asyncio.create_task(self._carry_out_late(fault.late, handler, values))
            self._late.add(task)
            task.add_done_callback(self._late.discard)
        if fault is not None and fault.status is not None:
            return web.json_response(fault.body, status=fault.status)
        if path == LISTEN_KEY_PATH:  # an API key and no signature, as on Binance
            try:
                self._check_api_key(request)
                return web.json_response(self.stream.listen_key_request(request.method))
            except BinanceApiError as exc:
                return web.json_response(exc.body(), status=exc.status)
        if handler is None:
            return web.Response(status=404, text=f"fake Binance: no route {request.method} {path}")
        try:
            if path not in PUBLIC_PATHS:
                self._authenticate(request, raw_body, values)
            self._wire.sync()
            payload = handler(Params(values))
        except BinanceApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        return await self._answer(payload, fault)

    async def _carry_out_late(self, seconds: float, handler: Any, values: dict[str, str]) -> None:
        await asyncio.sleep(seconds)
        self._wire.sync()
        with contextlib.suppress(BinanceApiError):  # refused when it finally ran
            handler(Params(values))

    async def _answer(self, payload: Any, fault: Fault | None) -> web.Response:
        if fault is not None and fault.transform is not None:
            payload = fault.transform(payload)
        text = json.dumps(payload)
        if fault is not None and fault.truncate:
            text = text[: len(text) // 2]
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        return web.Response(text=text, content_type="application/json")

    def _check_api_key(self, request: web.Request) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceApiError(-2014, "API-key format invalid.", status=401)
        if key in self.bad_api_keys:
            raise BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.",
                                  status=401)

    def _authenticate(self, request: web.Request, raw_body: str, values: dict[str, str]) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceApiError(-2014, "API-key format invalid.", status=401)
        if key in self.bad_api_keys:
            raise BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.",
                                  status=401)
        for name in ("timestamp", "signature"):
            Params(values).text(name)
        if self._secret is not None:
            signed = raw_body or request.query_string
            payload, _, signature = signed.rpartition("&signature=")
            expected = hmac.new(self._secret.encode(), payload.encode(), hashlib.sha256)
            if not hmac.compare_digest(expected.hexdigest(), signature):
                raise BinanceApiError(-1022, "Signature for this request is not valid.")

