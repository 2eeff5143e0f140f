"""``positionbot run`` as a real process: its configuration and the exchange it talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from positionbot.fakes.binance_server import BinanceServer
from positionbot.tracker.core.models import Side
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.support.telegram import BTC

CONFIG = """
[storage]
path = "state.db"

[tracker]
interval_seconds = 1
verify_delay_seconds = 0
cycle_timeout_seconds = 10
watchdog_seconds = 30

[telegram]
token_env = "PB_RUN_TEST_TOKEN"
base_url = {base_url}
allowed_chats = [{chat}]
notify_chats = [{chat}]

[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "PB_RUN_TEST_KEY"
secret_env = "PB_RUN_TEST_SECRET"
ccxt_config = {ccxt_config}
"""


@pytest.fixture
async def exchange_server() -> AsyncIterator[BinanceServer]:
    venue = PaperExchange(default_markets(), marks={BTC: Decimal("60000")})
    venue.open_position(BTC, Side.LONG, Decimal("0.01"), Decimal("60000"))
    async with BinanceServer(venue) as running:
        yield running
