"""Bybit's private WebSocket through real ccxt.pro against the fake: positions, orders (a
stop and its firing) and executions arrive with Bybit's own fields, exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.pro as ccxtpro
import pytest

from positionbot.fakes.bybit_server import BybitServer, ccxt_config_for
from positionbot.fakes.bybit_wire import exchange_id
from positionbot.tracker.core.models import OrderSide
from tests.exchange.contract.kits import BTC, BYBIT

D = Decimal
T = TypeVar("T")


@pytest.fixture
async def server() -> AsyncIterator[BybitServer]:
    async with BybitServer(BYBIT.venue()) as running:
        yield running


@pytest.fixture
async def pro(server: BybitServer) -> AsyncIterator[Any]:
    exchange = ccxtpro.bybit({"apiKey": "k", "secret": "s", **ccxt_config_for(server.base_url),
                              "options": {"enableUnifiedAccount": True,
                                          "enableUnifiedMargin": False}})
    yield exchange
    await exchange.close()


async def _after(watch: Awaitable[T], act: Any) -> T:
    """Start ``watch``, let it subscribe, then ``act``; the update it returns."""
    task = asyncio.ensure_future(watch)
    await asyncio.sleep(0.2)
    act()
    return await asyncio.wait_for(task, 3)


async def test_positions_arrive_with_bybits_fields(server: BybitServer, pro: Any) -> None:
    assert await pro.watch_positions() == []  # ccxt.pro's first answer is a REST snapshot

    [position] = await _after(pro.watch_positions(), lambda: server.venue.manual_order(
        BTC, OrderSide.BUY, D("0.013")))

    assert (position["symbol"], position["side"], position["info"]["size"]) == (
        BTC, "long", "0.013")
    assert position["info"]["positionIdx"] == 0 and position["info"]["category"] == "linear"


async def test_executions_are_exact_and_orders_show_a_fired_stop_under_its_id(
        server: BybitServer, pro: Any) -> None:
    [trade] = await _after(pro.watch_my_trades(BTC), lambda: server.venue.manual_order(
        BTC, OrderSide.BUY, D("0.010")))
    assert (trade["info"]["execQty"], trade["info"]["execPrice"]) == ("0.010", "50000")
    assert trade["info"]["execFee"] == "0.2000000" and trade["info"]["closedSize"] == "0"

    stop = server.venue.place_stop(BTC, OrderSide.SELL, D("0.010"), D("49000"),
                                   client_order_id="pb-1-sl-x")
    orders = await _after(pro.watch_orders(BTC), lambda: server.venue.set_mark(BTC, D("48000")))
    assert {o["clientOrderId"] for o in orders} == {"pb-1-sl-x"}  # no second order shown
    assert {o["info"]["orderId"] for o in orders} == {exchange_id(stop.id)}
    assert orders[-1]["info"]["orderStatus"] in ("Triggered", "Filled")
    assert orders[-1]["info"]["stopOrderType"] == "Stop"


async def test_a_revoked_key_is_refused_on_the_socket(server: BybitServer, pro: Any) -> None:
    server.bad_api_keys.add("k")

    with pytest.raises(ccxtpro.AuthenticationError):
        await asyncio.wait_for(pro.watch_orders(), 3)


async def test_a_dropped_socket_raises_in_the_pending_watch(server: BybitServer,
                                                            pro: Any) -> None:
    await pro.watch_positions()  # the REST snapshot

    with pytest.raises(ccxtpro.NetworkError):
        await _after(pro.watch_positions(), lambda: asyncio.ensure_future(server.stream.drop()))


async def test_stream_faults_refuse_silence_and_duplicate(server: BybitServer, pro: Any) -> None:
    server.stream.faults.refuse = 1
    with pytest.raises(ccxtpro.NetworkError):
        await asyncio.wait_for(pro.watch_orders(), 3)

    await pro.watch_positions()  # the REST snapshot, on a fresh connection
    server.stream.faults.silent = True
    with pytest.raises(TimeoutError):
        await _after(asyncio.wait_for(pro.watch_positions(), 0.5),
                     lambda: server.venue.manual_order(BTC, OrderSide.BUY, D("0.010")))

    server.stream.faults.silent = False
    server.stream.faults.duplicate = 1
    sent = server.stream.events_sent
    await _after(pro.watch_positions(), lambda: server.venue.manual_order(
        BTC, OrderSide.BUY, D("0.010")))
    assert server.stream.events_sent - sent >= 2
