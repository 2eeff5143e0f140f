"""The contract suite's fixtures: every test runs against Binance USDⓈ-M, Bybit v5 and OKX v5,
each a wire-format fake driven by real ccxt through the real ``CcxtGateway``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from positionbot.tracker.core.models import PositionMode
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.kits import KITS, Kit, Server

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.04, call_timeout=0.5)

GatewayFactory = Callable[..., CcxtGateway]


@pytest.fixture(params=KITS, ids=[kit.name for kit in KITS])
def kit(request: pytest.FixtureRequest) -> Kit:
    chosen: Kit = request.param
    return chosen


@pytest.fixture
def venue(kit: Kit) -> PaperExchange:
    return kit.venue()


@pytest.fixture
def hedge_venue(kit: Kit) -> PaperExchange:
    return kit.venue(mode=PositionMode.HEDGE)


@pytest.fixture
async def server(kit: Kit, venue: PaperExchange) -> AsyncIterator[Server]:
    running = kit.server(venue)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def hedge_server(kit: Kit, hedge_venue: PaperExchange) -> AsyncIterator[Server]:
    running = kit.server(hedge_venue)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def make_gateway(kit: Kit) -> AsyncIterator[GatewayFactory]:
    made: list[CcxtGateway] = []

    def make(server: Server, *, api_key: str = "test-key", retry: RetryPolicy = FAST_RETRY,
             **kwargs: Any) -> CcxtGateway:
        gateway = CcxtGateway("acc-1", kit.exchange_id, api_key=api_key, secret="test-secret",
                              password=kit.password, ccxt_config=kit.ccxt_config(server.base_url),
                              retry=retry, **kwargs)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.close()


@pytest.fixture
def gateway(make_gateway: GatewayFactory, server: Server) -> CcxtGateway:
    return make_gateway(server)


@pytest.fixture
def hedge_gateway(make_gateway: GatewayFactory, hedge_server: Server) -> CcxtGateway:
    return make_gateway(hedge_server)
