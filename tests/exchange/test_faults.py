"""Retries within bounds, clear permanent errors, and orders that never double on a retry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.fakes.binance_faults import TOO_MANY_REQUESTS, Fault
from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.tracker.core.models import OrderSide, OrderStatus, Side
from positionbot.tracker.engine.ports import (
    OrderOutcomeUnknownError,
    PermanentExchangeError,
    TransientExchangeError,
)
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.exchange import BTC, ETH, GatewayFactory

D = Decimal
QUICK_TIMEOUT = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, call_timeout=0.2)
POSITIONS = "/fapi/v3/positionRisk"


async def _warm(gateway: CcxtGateway, server: BinanceServer) -> None:
    """Load markets and leverage brackets, then start counting from zero."""
    await gateway.fetch_positions()
    server.requests.clear()


@pytest.mark.parametrize("fault", [
    Fault.server_error(POSITIONS, status=500),
    Fault.server_error(POSITIONS, status=503),
    Fault.rate_limited(POSITIONS),
    Fault.truncated(POSITIONS),
], ids=["500 -1001", "503 -1001", "429 -1003", "truncated body"])
async def test_transient_faults_are_retried(gateway: CcxtGateway, server: BinanceServer,
                                            venue: PaperExchange, fault: Fault) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await _warm(gateway, server)
    server.inject(fault, fault)

    snapshot = await gateway.fetch_positions()

    assert [p.size for p in snapshot.positions] == [D("0.010")]
    assert server.count(POSITIONS) == 3


@pytest.mark.parametrize("fault", [
    Fault.server_error(POSITIONS),
    Fault.rate_limited(POSITIONS),
], ids=["-1001", "429"])
async def test_retries_stop_at_the_cap(gateway: CcxtGateway, server: BinanceServer,
                                       fault: Fault) -> None:
    await _warm(gateway, server)
    server.inject(*[fault] * 5)

    with pytest.raises(TransientExchangeError, match="failed after 3 attempts"):
        await gateway.fetch_positions()

    assert server.count(POSITIONS) == 3


async def test_timeouts_are_retried_then_reported(make_gateway: GatewayFactory,
                                                  server: BinanceServer) -> None:
    gateway = make_gateway(server, retry=QUICK_TIMEOUT)
    await _warm(gateway, server)
    server.inject(*[Fault.slow(0.5, "/openAlgoOrders")] * 3)

    with pytest.raises(TransientExchangeError, match="RequestTimeout"):
        await gateway.fetch_open_stop_orders()

    assert server.count("/openAlgoOrders") == 3


async def test_authentication_error_is_clear_and_not_retried(make_gateway: GatewayFactory,
                                                             server: BinanceServer) -> None:
    server.bad_api_keys.add("revoked-key")
    gateway = make_gateway(server, api_key="revoked-key")

    with pytest.raises(PermanentExchangeError, match="authentication failed") as raised:
        await gateway.fetch_positions()

    assert "-2015" in str(raised.value) and "test-secret" not in str(raised.value)
    assert server.total_requests == 2  # the public market load, then one refused request


async def test_a_wrong_signature_is_refused_as_authentication(make_gateway: GatewayFactory,
                                                              venue: PaperExchange) -> None:
    async with BinanceServer(venue, secret="test-secret") as server:
        assert (await make_gateway(server).fetch_positions()).positions == ()
        wrong = make_gateway(server, secret="another-secret")

        with pytest.raises(PermanentExchangeError, match=r"authentication failed.*-1022"):
            await wrong.fetch_open_stop_orders()


async def test_server_side_bad_symbol_is_not_retried(gateway: CcxtGateway,
                                                     server: BinanceServer) -> None:
    await _warm(gateway, server)
    server.inject(Fault("/userTrades", status=400, body={"code": -1121, "msg": "Invalid symbol."}))

    with pytest.raises(PermanentExchangeError, match="does not know this symbol"):
        await gateway.fetch_fills(BTC, (await gateway.fetch_positions()).fetched_at)

    assert server.count("/userTrades") == 1


async def test_cancel_is_retried_after_a_server_error(gateway: CcxtGateway,
                                                      server: BinanceServer,
                                                      venue: PaperExchange) -> None:
    order = venue.manual_order(ETH, OrderSide.BUY, D("0.100"), price=D("2800"))
    await _warm(gateway, server)
    server.inject(Fault.server_error("/fapi/v1/order", method="DELETE"))

    await gateway.cancel_order(ETH, order.id)

    assert venue.open_orders() == []
    assert server.count("/fapi/v1/order", "DELETE") == 2


async def test_stop_loss_whose_answer_is_lost_is_found_not_placed_twice(
        make_gateway: GatewayFactory, server: BinanceServer, venue: PaperExchange) -> None:
    gateway = make_gateway(server, retry=QUICK_TIMEOUT)
    venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await _warm(gateway, server)
    server.inject(Fault.slow(0.5, "/fapi/v1/algoOrder", method="POST"))  # placed, but the answer comes late

    order = await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("45000"), "sl-t", False)

    assert [o.id for o in venue.open_stop_orders()] == [order.id]
    assert order.client_order_id == "sl-t"
    assert server.count("/fapi/v1/algoOrder", "POST") == 1
    assert server.sent("/fapi/v1/algoOrder", "GET")[0]["clientAlgoId"] == "sl-t"


async def test_market_entry_whose_answer_is_lost_fills_once(make_gateway: GatewayFactory,
                                                            server: BinanceServer,
                                                            venue: PaperExchange) -> None:
    gateway = make_gateway(server, retry=QUICK_TIMEOUT)
    await _warm(gateway, server)
    server.inject(Fault.slow(0.5, "/fapi/v1/order", method="POST"))

    order = await gateway.place_entry(BTC, Side.LONG, D("0.010"), None, "in-t", hedge=False)

    assert order.status is OrderStatus.CLOSED and order.client_order_id == "in-t"
    assert [p.size for p in venue.positions()] == [D("0.010")]
    assert server.count("/fapi/v1/order", "POST") == 1


async def test_create_answered_by_a_5xx_is_looked_up_not_sent_again(
        gateway: CcxtGateway, server: BinanceServer, venue: PaperExchange) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await _warm(gateway, server)
    server.inject(Fault.server_error("/fapi/v1/algoOrder", method="POST"))

    with pytest.raises(OrderOutcomeUnknownError, match="not sent again"):
        await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("45000"), "sl-r", False)

    assert [p["clientAlgoId"] for p in server.sent("/fapi/v1/algoOrder")] == ["sl-r"]
    assert [p["clientAlgoId"] for p in server.sent("/fapi/v1/algoOrder", "GET")] == ["sl-r"] * 3
    assert venue.open_stop_orders() == []


async def test_create_that_keeps_being_rate_limited_reports_no_order(gateway: CcxtGateway,
                                                                     server: BinanceServer,
                                                                     venue: PaperExchange) -> None:
    await _warm(gateway, server)
    server.inject(*[Fault("/fapi/v1/order", "POST", status=429, body=TOO_MANY_REQUESTS)] * 3)

    with pytest.raises(TransientExchangeError, match="refused unprocessed 3 times"):
        await gateway.place_entry(BTC, Side.LONG, D("0.010"), None, "in-f", hedge=False)

    assert venue.positions() == []
    assert server.count("/fapi/v1/order", "POST") == 3
    assert server.count("/fapi/v1/order", "GET") == 3  # before each resend, and after the last


async def test_duplicate_client_id_returns_the_existing_order(gateway: CcxtGateway,
                                                              server: BinanceServer,
                                                              venue: PaperExchange) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    first = await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("45000"), "sl-d", False)

    again = await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("45000"), "sl-d", False)

    assert again.id == first.id
    assert len(venue.open_stop_orders()) == 1


async def test_ccxt_config_reaches_the_ccxt_constructor(make_gateway: GatewayFactory,
                                                        server: BinanceServer) -> None:
    config = {**ccxt_config_for(server.base_url), "timeout": 100,
              "options": {"recvWindow": 5000}}
    gateway = make_gateway(server, retry=RetryPolicy(attempts=1, call_timeout=5.0),
                           ccxt_config=config)
    await gateway.fetch_positions()
    server.inject(Fault.slow(0.4, "/openAlgoOrders"))

    # ccxt's own 100 ms timeout fires, well before the policy's 5 s cut-off would.
    with pytest.raises(TransientExchangeError, match="RequestTimeout: binanceusdm GET"):
        await gateway.fetch_open_stop_orders()

    assert server.sent(POSITIONS, "GET")[0]["recvWindow"] == "5000"
