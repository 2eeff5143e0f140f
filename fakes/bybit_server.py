"""A local HTTP server speaking Bybit v5's wire format (linear contracts, unified account), for
real ccxt (``bybit``) to talk to; a wire adapter over ``tracker.exchange.paper.PaperExchange``.

Test controls as on the Binance fake: ``venue`` (marks, manual trades and cancels, forced
fills), ``seed_position``, ``inject`` (``Fault``s; ``bybit_faults`` builds Bybit's own),
``bad_api_keys``, ``requests`` and ``log``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support as ccxt
from aiohttp import web

from positionbot.fakes import bybit_wire as wire
from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.bybit_stream import PATH, BybitStream
from positionbot.fakes.bybit_venue import BybitVenue
from positionbot.fakes.wire_server import WireError, WireServer
from positionbot.tracker.core.models import Market
from positionbot.tracker.exchange.paper import PaperExchange

BAD_GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head></html>"


def bybit_markets() -> list[Market]:
    """Bybit's BTC, ETH and SOL USDT perpetuals and its BTC USDC perpetual (``BTCPERP``)."""
    def perp(base: str, settle: str, step: str, tick: str, notional: str) -> Market:
        return Market(symbol=f"{base}/{settle}:{settle}", base=base, quote=settle, settle=settle,
                      amount_step=Decimal(step), price_tick=Decimal(tick),
                      min_amount=Decimal(step), min_notional=Decimal(notional))
    return [perp("BTC", "USDT", "0.001", "0.1", "5"), perp("ETH", "USDT", "0.01", "0.01", "5"),
            perp("SOL", "USDT", "0.1", "0.001", "5"), perp("BTC", "USDC", "0.001", "0.5", "1")]


def ccxt_config_for(base_url: str) -> dict[str, Any]:
    """Point every URL of ccxt's ``bybit`` at the server, keeping paths; ccxt.pro's private
    stream goes to the server's ``/v5/private`` socket."""
    urls = ccxt.bybit().urls["api"]
    base = base_url.rstrip("/")
    api: dict[str, Any] = {name: base + (urlsplit(url).path if "://" in url else "")
                           for name, url in urls.items()}
    socket = "ws" + base.removeprefix("http") + PATH
    api["ws"] = {"private": {"contract": socket, "spot": {"unified": socket},
                             "usdc": socket, "trade": socket}}
    return {"urls": {"api": api}, "rateLimit": 1, "timeout_on_exit": 0}


class BybitFaults:
    """Bybit's own misbehaviours, as ``Fault``s for ``BybitServer.inject``."""

    @staticmethod
    def rate_limited(path: str | None = None) -> Fault:
        """retCode 10006 with HTTP 200 (ccxt raises RateLimitExceeded)."""
        return Fault(path, status=200, body=wire.rate_limit_body())

    @staticmethod
    def system_error(path: str | None = None, *, method: str | None = None) -> Fault:
        """retCode 10016 with HTTP 200, before anything happened."""
        return Fault(path, method, status=200, body=wire.system_error_body())

    @staticmethod
    def bad_gateway(path: str | None = None, *, method: str | None = None) -> Fault:
        """An HTML 502 from the load balancer (ccxt raises ExchangeNotAvailable)."""
        return Fault(path, method, status=502, body=BAD_GATEWAY_PAGE)

    @staticmethod
    def execution_unknown(path: str = "/v5/order/create") -> Fault:
        """The order is placed, but the answer is 10016: its fate is unknown to the caller."""
        return Fault(path, "POST", transform=lambda _payload: wire.system_error_body())

    @staticmethod
    def empty_list(path: str = "/v5/position/list") -> Fault:
        def empty(payload: dict[str, Any]) -> dict[str, Any]:
            return {**payload, "result": {**payload["result"], "list": [],
                                          "nextPageCursor": ""}}
        return Fault(path, transform=empty)

    @staticmethod
    def rewrite_rows(change: Any, path: str = "/v5/position/list") -> Fault:
        """Answer with ``change(row)`` for every row of the listing."""
        def rewrite(payload: dict[str, Any]) -> dict[str, Any]:
            rows = [change(row) for row in payload["result"]["list"]]
            return {**payload, "result": {**payload["result"], "list": rows}}
        return Fault(path, transform=rewrite)


class BybitServer(WireServer):
    """Serve a ``PaperExchange`` on 127.0.0.1 as Bybit v5."""

    name = "fake Bybit"
    public_prefixes = ("/v5/market/",)

    def __init__(self, venue: PaperExchange, *, leverage: int = 10) -> None:
        super().__init__(venue)
        self.wire = BybitVenue(venue, self.replay, leverage=leverage)
        self.routes = self.wire.routes
        self.stream = BybitStream(venue, self.replay, self.wire.stop_of_child,
                                  self.bad_api_keys)
        self.sockets = {PATH: self.stream.handle_socket}

    @property
    def leverage(self) -> dict[str, int]:
        return self.wire.leverage

    @property
    def liquidation(self) -> dict[str, Decimal]:
        return self.wire.liquidation

    def authenticate(self, request: web.Request, values: Mapping[str, str]) -> None:
        key = request.headers.get("X-BAPI-API-KEY")
        if not key or key in self.bad_api_keys:
            raise WireError(wire.envelope({}, wire.INVALID_KEY, "API key is invalid."))
        if not request.headers.get("X-BAPI-SIGN") or not request.headers.get("X-BAPI-TIMESTAMP"):
            raise WireError(wire.envelope({}, 10004, "error sign! origin_string[]"))
        self.wire.sync()

    async def stop(self) -> None:
        self.stream.close()
        await super().stop()

