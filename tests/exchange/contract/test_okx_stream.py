"""OKX's private WebSockets through real ccxt.pro against the fake: positions in contracts,
orders carrying their fills (fees negative, OKX's sign), stop losses on ``orders-algo``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.pro as ccxtpro
import pytest

from positionbot.fakes.okx_server import OkxServer, ccxt_config_for
from positionbot.tracker.core.models import OrderSide
from tests.exchange.contract.kits import BTC, OKX

D = Decimal
T = TypeVar("T")


@pytest.fixture
async def server() -> AsyncIterator[OkxServer]:
    async with OkxServer(OKX.venue()) as running:
        yield running


@pytest.fixture
async def pro(server: OkxServer) -> AsyncIterator[Any]:
    exchange = ccxtpro.okx({"apiKey": "k", "secret": "s", "password": "p",
                            **ccxt_config_for(server.base_url),
                            "options": {"fetchMarkets": {"types": ["swap"]}},
                            "has": {"fetchCurrencies": False}})
    yield exchange
    await exchange.close()


async def _after(watch: Awaitable[T], act: Callable[[], object]) -> T:
    """Start ``watch``, let it subscribe, then ``act``; the update it returns."""
    task = asyncio.ensure_future(watch)
    await asyncio.sleep(0.2)
    act()
    return await asyncio.wait_for(task, 3)


async def test_positions_in_contracts_and_a_closed_net_position_as_zero_rows(
        server: OkxServer, pro: Any) -> None:
    [position] = await _after(pro.watch_positions(), lambda: server.venue.manual_order(
        BTC, OrderSide.BUY, D("3")))
    assert (position["symbol"], position["side"], position["info"]["pos"]) == (BTC, "long", "3")
    assert position["contractSize"] == 0.01

    closed = await _after(pro.watch_positions(), lambda: server.venue.manual_order(
        BTC, OrderSide.SELL, D("3"), reduce_only=True))
    assert [p["info"]["pos"] for p in closed][-2:] == ["0", "0"]


async def test_orders_carry_their_fill_with_okxs_fee_sign(server: OkxServer, pro: Any) -> None:
    orders = await _after(pro.watch_orders(BTC), lambda: server.venue.manual_order(
        BTC, OrderSide.BUY, D("2")))

    filled = [o for o in orders if o["info"]["fillSz"] not in ("", "0")]
    assert [(o["info"]["fillSz"], o["info"]["fillPx"]) for o in filled] == [("2", "50000")]
    assert filled[0]["info"]["fillFee"] == "-0.400000"  # 2 x 0.01 x 50000 x 0.0004, charged


async def test_a_stop_loss_fires_on_orders_algo(server: OkxServer, pro: Any) -> None:
    server.venue.manual_order(BTC, OrderSide.BUY, D("2"))
    stop = server.venue.place_stop(BTC, OrderSide.SELL, D("2"), D("49000"),
                                   client_order_id="pbX1XslXa")

    algos = await _after(pro.watch_orders(BTC, None, None, {"trigger": True}),
                         lambda: server.venue.set_mark(BTC, D("48000")))

    [fired] = [a for a in algos if a["id"] == stop.id]
    assert fired["info"]["state"] == "effective" and fired["info"]["ordId"] not in ("", stop.id)
    assert fired["info"]["slTriggerPx"] == "49000"


async def test_a_revoked_key_cannot_log_in(server: OkxServer, pro: Any) -> None:
    await pro.load_markets()
    server.bad_api_keys.add("k")

    with pytest.raises(ccxtpro.AuthenticationError):
        await asyncio.wait_for(pro.watch_positions(), 3)


async def test_a_dropped_socket_raises_in_the_pending_watch(server: OkxServer,
                                                            pro: Any) -> None:
    with pytest.raises(ccxtpro.NetworkError):
        await _after(pro.watch_orders(BTC), lambda: asyncio.ensure_future(server.stream.drop()))


async def test_stream_faults_refuse_and_silence(server: OkxServer, pro: Any) -> None:
    server.stream.faults.refuse = 1
    with pytest.raises(ccxtpro.NetworkError):
        await asyncio.wait_for(pro.watch_positions(), 3)

    server.stream.faults.silent = True
    with pytest.raises(TimeoutError):
        await _after(asyncio.wait_for(pro.watch_orders(BTC), 0.5),
                     lambda: server.venue.manual_order(BTC, OrderSide.BUY, D("2")))
