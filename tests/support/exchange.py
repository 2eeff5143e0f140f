"""Real ccxt (``binanceusdm``) over HTTP against the local fake Binance server.

Retries are tiny and timeouts short so the fault tests stay fast; the server counts every
request, so the tests count attempts where the exchange would see them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.tracker.core.models import PositionMode
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from positionbot.tracker.exchange.paper import PaperExchange, default_markets

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
D = Decimal
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.04, call_timeout=0.5)
MARKS = {BTC: D("50000"), ETH: D("3000"), SOL: D("150")}

GatewayFactory = Callable[..., CcxtGateway]


@pytest.fixture
def venue() -> PaperExchange:
    return PaperExchange(default_markets(), marks=MARKS)


@pytest.fixture
def hedge_venue() -> PaperExchange:
    return PaperExchange(default_markets(), mode=PositionMode.HEDGE, marks=MARKS)


@pytest.fixture
async def server(venue: PaperExchange) -> AsyncIterator[BinanceServer]:
    async with BinanceServer(venue) as running:
        yield running


@pytest.fixture
async def hedge_server(hedge_venue: PaperExchange) -> AsyncIterator[BinanceServer]:
    async with BinanceServer(hedge_venue) as running:
        yield running


@pytest.fixture
async def make_gateway() -> AsyncIterator[GatewayFactory]:
    """Gateways on a given server, closed at the end of the test."""
    made: list[CcxtGateway] = []

    def make(server: BinanceServer, *, api_key: str = "test-key", secret: str = "test-secret",
             retry: RetryPolicy = FAST_RETRY, **kwargs: Any) -> CcxtGateway:
        config = kwargs.pop("ccxt_config", None) or ccxt_config_for(server.base_url)
        gateway = CcxtGateway("acc-1", "binanceusdm", api_key=api_key, secret=secret,
                              ccxt_config=config, retry=retry, **kwargs)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.close()


@pytest.fixture
def gateway(make_gateway: GatewayFactory, server: BinanceServer) -> CcxtGateway:
    return make_gateway(server)


@pytest.fixture
def hedge_gateway(make_gateway: GatewayFactory, hedge_server: BinanceServer) -> CcxtGateway:
    return make_gateway(hedge_server)
