"""Shared fixtures for the paper exchange tests: a hand-driven clock and ready venues."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from positionbot.tracker.core.models import PositionMode
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets
from tests.support.clock import HandClock

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def d(value: str) -> Decimal:
    return Decimal(value)


@pytest.fixture
def clock() -> HandClock:
    return HandClock(START)


@pytest.fixture
def exchange(clock: HandClock) -> PaperExchange:
    return PaperExchange(default_markets(), clock=clock,
                         marks={BTC: d("50000"), ETH: d("3000")})


@pytest.fixture
def hedge_exchange(clock: HandClock) -> PaperExchange:
    return PaperExchange(default_markets(), mode=PositionMode.HEDGE, clock=clock,
                         marks={BTC: d("50000"), ETH: d("3000")})


@pytest.fixture
def gateway(exchange: PaperExchange) -> PaperGateway:
    return PaperGateway(exchange, account="acc-1")
