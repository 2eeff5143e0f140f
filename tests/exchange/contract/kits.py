"""One kit per exchange for the contract suite: its fake server, markets, endpoints and faults.

Sizes in tests are written in BTC/ETH; ``Kit.qty`` turns them into the exchange's units
(contracts on OKX, where BTC-USDT-SWAP is 0.01 BTC and ETH-USDT-SWAP 0.1 ETH per contract).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from positionbot.fakes import binance_server, bybit_server, bybit_wire, okx_server
from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.bybit_server import BybitFaults, BybitServer, bybit_markets
from positionbot.fakes.okx_server import OkxFaults, OkxServer, okx_markets
from positionbot.tracker.core.models import Market
from positionbot.tracker.exchange.paper import PaperExchange, default_markets

D = Decimal
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
BTC_USDC = "BTC/USDC:USDC"
MARKS = {BTC: D("50000"), ETH: D("3000"), BTC_USDC: D("50010")}

Server = binance_server.BinanceServer | BybitServer | OkxServer


@dataclass(frozen=True)
class Kit:
    name: str
    exchange_id: str
    markets: Callable[[], list[Market]]
    server: Callable[[PaperExchange], Server]
    ccxt_config: Callable[[str], dict[str, Any]]
    positions: str  # path of the positions listing
    stops: str  # path of the open-stops listing
    open_orders: str
    create: str  # path an ordinary order is created on
    create_stop: str
    fills: str
    server_error: Callable[[str], Fault]  # a 5xx (or the exchange's "try again") on a path
    rate_limited: Callable[[str], Fault]
    execution_unknown: Callable[[str], Fault]  # the order is taken, the answer says nothing
    empty_list: Callable[[str], Fault]
    password: str | None = None
    scopes: int = 1  # listings per sweep: Bybit asks per settle coin (USDT, USDC) and inverse
    venue_id: Callable[[str], str | None] = str  # the paper venue's id of an exchange order id

    def qty(self, base: str, symbol: str = BTC) -> Decimal:
        """``base`` coins of ``symbol`` in the exchange's order units."""
        market = next(m for m in self.markets() if m.symbol == symbol)
        return D(base) / market.contract_size

    def vid(self, order_id: str) -> str:
        found = self.venue_id(order_id)
        assert found is not None, order_id
        return found

    def venue(self, **kwargs: Any) -> PaperExchange:
        marks = {s: p for s, p in MARKS.items() if any(m.symbol == s for m in self.markets())}
        return PaperExchange(self.markets(), marks=marks, **kwargs)


BINANCE = Kit(
    "binance", "binanceusdm", default_markets, binance_server.BinanceServer,
    binance_server.ccxt_config_for, "/fapi/v3/positionRisk", "/fapi/v1/openAlgoOrders",
    "/fapi/v1/openOrders", "/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v1/userTrades",
    server_error=lambda path: Fault.server_error(path),
    rate_limited=lambda path: Fault.rate_limited(path),
    execution_unknown=lambda path: Fault.executes_late(0.05, path),
    empty_list=lambda path: Fault.empty_list(path),
)
BYBIT = Kit(
    "bybit", "bybit", bybit_markets, BybitServer, bybit_server.ccxt_config_for,
    "/v5/position/list", "/v5/order/realtime", "/v5/order/realtime", "/v5/order/create",
    "/v5/order/create", "/v5/execution/list",
    server_error=lambda path: BybitFaults.bad_gateway(path),
    rate_limited=lambda path: BybitFaults.rate_limited(path),
    execution_unknown=lambda path: BybitFaults.execution_unknown(path),
    empty_list=lambda path: BybitFaults.empty_list(path),
    scopes=3,
    venue_id=bybit_wire.venue_id,
)
OKX = Kit(
    "okx", "okx", okx_markets, OkxServer, okx_server.ccxt_config_for,
    "/api/v5/account/positions", "/api/v5/trade/orders-algo-pending",
    "/api/v5/trade/orders-pending", "/api/v5/trade/batch-orders", "/api/v5/trade/order-algo",
    "/api/v5/trade/fills-history",
    server_error=lambda path: OkxFaults.unavailable(path),
    rate_limited=lambda path: OkxFaults.rate_limited(path),
    execution_unknown=lambda path: OkxFaults.execution_unknown(path),
    empty_list=lambda path: OkxFaults.empty_list(path),
    password="test-passphrase",
)
KITS = (BINANCE, BYBIT, OKX)
