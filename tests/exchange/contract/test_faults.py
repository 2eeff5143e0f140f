"""Each exchange's own faults, mapped the same way: 5xx and rate limits (Bybit's 10006 comes
with HTTP 200, OKX's 50011 with 429) retried within the cap, timeouts cut off, refusals not
retried, and an order whose answer says nothing certain looked up instead of sent twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import OrderSide, OrderStatus, Side
from positionbot.tracker.engine.ports import PermanentExchangeError, TransientExchangeError
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.conftest import FAST_RETRY, GatewayFactory
from tests.exchange.contract.kits import BTC, Kit, Server

D = Decimal
QUICK_TIMEOUT = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, call_timeout=0.2)


async def _warm(gateway: CcxtGateway, server: Server) -> None:
    await gateway.fetch_positions()
    await gateway.fetch_open_stop_orders()
    server.requests.clear()


@pytest.mark.parametrize("fault", ["server_error", "rate_limited"])
async def test_transient_faults_are_retried(kit: Kit, gateway: CcxtGateway, server: Server,
                                            venue: PaperExchange, fault: str) -> None:
    venue.manual_order(BTC, OrderSide.BUY, kit.qty("0.010"))
    await _warm(gateway, server)
    make = getattr(kit, fault)
    server.inject(make(kit.positions), make(kit.positions))

    snapshot = await gateway.fetch_positions()

    assert [p.size for p in snapshot.positions] == [kit.qty("0.010")]
    assert server.count(kit.positions) == 2 + kit.scopes


@pytest.mark.parametrize("fault", ["server_error", "rate_limited"])
async def test_retries_stop_at_the_cap(kit: Kit, gateway: CcxtGateway, server: Server,
                                       fault: str) -> None:
    await _warm(gateway, server)
    server.inject(*[getattr(kit, fault)(kit.stops)] * 5)

    with pytest.raises(TransientExchangeError, match=f"failed after {FAST_RETRY.attempts}"):
        await gateway.fetch_open_stop_orders()

    assert server.count(kit.stops) == FAST_RETRY.attempts


async def test_timeouts_are_cut_off_and_retried(kit: Kit, make_gateway: GatewayFactory,
                                                server: Server) -> None:
    gateway = make_gateway(server, retry=QUICK_TIMEOUT)
    await _warm(gateway, server)
    server.inject(*[Fault.slow(0.5, kit.stops)] * 3)

    with pytest.raises(TransientExchangeError, match="RequestTimeout"):
        await gateway.fetch_open_stop_orders()

    assert server.count(kit.stops) == 3


async def test_malformed_json_is_retried(kit: Kit, gateway: CcxtGateway, server: Server,
                                         venue: PaperExchange) -> None:
    venue.manual_order(BTC, OrderSide.BUY, kit.qty("0.010"))
    await _warm(gateway, server)
    server.inject(Fault.truncated(kit.positions))

    assert len((await gateway.fetch_positions()).positions) == 1


async def test_a_revoked_key_is_clear_and_not_retried(kit: Kit, make_gateway: GatewayFactory,
                                                      server: Server) -> None:
    server.bad_api_keys.add("revoked")
    gateway = make_gateway(server, api_key="revoked")
    await gateway.markets()
    server.requests.clear()

    with pytest.raises(PermanentExchangeError, match="authentication failed") as raised:
        await gateway.fetch_positions()

    assert "test-secret" not in str(raised.value)
    assert server.total_requests == 1


async def test_stop_whose_outcome_is_unknown_is_found_not_placed_twice(
        kit: Kit, gateway: CcxtGateway, server: Server, venue: PaperExchange) -> None:
    venue.manual_order(BTC, OrderSide.BUY, kit.qty("0.010"))
    await _warm(gateway, server)
    server.inject(kit.execution_unknown(kit.create_stop))

    order = await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("45000"),
                                          "pb-3-sl-0000000001", False)

    assert [kit.vid(order.id)] == [o.id for o in venue.open_stop_orders()]
    assert order.client_order_id == "pb-3-sl-0000000001"
    assert server.count(kit.create_stop, "POST") == 1


async def test_entry_whose_outcome_is_unknown_fills_once(kit: Kit, gateway: CcxtGateway,
                                                         server: Server,
                                                         venue: PaperExchange) -> None:
    await _warm(gateway, server)
    server.inject(kit.execution_unknown(kit.create))

    order = await gateway.place_entry(BTC, Side.LONG, kit.qty("0.010"), None,
                                      "pb-4-entry-0000000001", hedge=False)

    assert order.status is OrderStatus.CLOSED
    assert [p.size for p in venue.positions()] == [kit.qty("0.010")]
    assert server.count(kit.create, "POST") == 1


async def test_a_rate_limited_create_is_sent_again_under_the_same_client_id(
        kit: Kit, gateway: CcxtGateway, server: Server, venue: PaperExchange) -> None:
    venue.manual_order(BTC, OrderSide.BUY, kit.qty("0.010"))
    await _warm(gateway, server)
    server.inject(kit.rate_limited(kit.create_stop))

    order = await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("45000"),
                                          "pb-5-sl-0000000001", False)

    assert [o.id for o in venue.open_stop_orders()] == [kit.vid(order.id)]
    assert server.count(kit.create_stop, "POST") == 2
