"""A local HTTP server speaking OKX v5's wire format (perpetual swaps), for real ccxt (``okx``)
to talk to; a wire adapter over ``tracker.exchange.paper.PaperExchange``.

Test controls as on the Binance fake: ``venue``, ``seed_position``, ``inject`` (``Fault``s;
``OkxFaults`` builds OKX's own), ``bad_api_keys``, ``requests`` and ``log``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from positionbot.fakes import okx_wire as wire
from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.okx_stream import BUSINESS, PRIVATE, OkxStream
from positionbot.fakes.okx_venue import OkxVenue
from positionbot.fakes.wire_server import WireError, WireServer
from positionbot.tracker.core.models import Market
from positionbot.tracker.exchange.paper import PaperExchange


def okx_markets() -> list[Market]:
    """OKX's BTC, ETH and SOL USDT swaps, sized in contracts: 0.01 BTC, 0.1 ETH, 1 SOL each."""
    def swap(base: str, ct_val: str, lot: str, tick: str) -> Market:
        return Market(symbol=f"{base}/USDT:USDT", base=base, quote="USDT", settle="USDT",
                      contract_size=Decimal(ct_val), amount_step=Decimal(lot),
                      price_tick=Decimal(tick), min_amount=Decimal(lot))
    return [swap("BTC", "0.01", "0.01", "0.1"), swap("ETH", "0.1", "0.01", "0.01"),
            swap("SOL", "1", "0.01", "0.001")]


def ccxt_config_for(base_url: str) -> dict[str, Any]:
    """Point ccxt's ``okx`` at the server (its one ``rest`` URL takes the host) and ccxt.pro's
    streams at its ``/ws/v5/private`` and ``/ws/v5/business`` sockets."""
    base = base_url.rstrip("/")
    return {"urls": {"api": {"rest": base, "ws": "ws" + base.removeprefix("http") + "/ws/v5"}},
            "rateLimit": 1, "timeout_on_exit": 0}


class OkxFaults:
    """OKX's own misbehaviours, as ``Fault``s for ``OkxServer.inject``."""

    @staticmethod
    def rate_limited(path: str | None = None) -> Fault:
        """HTTP 429 with code 50011 (ccxt raises RateLimitExceeded)."""
        return Fault(path, status=429, body=wire.envelope([], "50011", "Too Many Requests"))

    @staticmethod
    def unavailable(path: str | None = None, *, method: str | None = None) -> Fault:
        """HTTP 503 with code 50001 (ccxt raises OnMaintenance, a NetworkError)."""
        return Fault(path, method, status=503, body=wire.envelope(
            [], "50001", "Service temporarily unavailable. Please try again later."))

    @staticmethod
    def execution_unknown(path: str = "/api/v5/trade/batch-orders") -> Fault:
        """The order is placed but the answer is 50004, "does not indicate success or failure"."""
        return Fault(path, "POST", transform=lambda _payload: wire.envelope(
            [], "50004", "API endpoint request timeout (does not indicate success or failure "
                         "of order, please check order status)"))

    @staticmethod
    def empty_list(path: str = "/api/v5/account/positions") -> Fault:
        return Fault(path, transform=lambda payload: {**payload, "data": []})

    @staticmethod
    def rewrite_rows(change: Any, path: str = "/api/v5/account/positions") -> Fault:
        return Fault(path, transform=lambda payload: {
            **payload, "data": [change(row) for row in payload["data"]]})


class OkxServer(WireServer):
    """Serve a ``PaperExchange`` on 127.0.0.1 as OKX v5."""

    name = "fake OKX"
    public_prefixes = ("/api/v5/public/",)

    def __init__(self, venue: PaperExchange, *, leverage: int = 10) -> None:
        super().__init__(venue)
        self.wire = OkxVenue(venue, self.replay, leverage=leverage)
        self.routes = self.wire.routes
        self.stream = OkxStream(venue, self.replay, self.bad_api_keys)
        self.sockets = {PRIVATE: self.stream.handle_socket, BUSINESS: self.stream.handle_socket}

    @property
    def leverage(self) -> dict[str, int]:
        return self.wire.leverage

    @property
    def liquidation(self) -> dict[str, Decimal]:
        return self.wire.liquidation

    def authenticate(self, request: web.Request, values: Mapping[str, str]) -> None:
        key = request.headers.get("OK-ACCESS-KEY")
        if not key or key in self.bad_api_keys:
            raise WireError(wire.envelope([], str(wire.INVALID_KEY), "Invalid OK-ACCESS-KEY"), 401)
        for header in ("OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE"):
            if not request.headers.get(header):
                raise WireError(wire.envelope([], "50103" if header.endswith("PASSPHRASE")
                                              else "50113", f"{header} header is required"), 401)
        self.wire.sync()

    async def stop(self) -> None:
        self.stream.close()
        await super().stop()

