"""Where the exchanges truly differ, pinned on the wire: what the gateway sends each of them
(read back from the fake's request log) and what it makes of their answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from positionbot.fakes.bybit_server import BybitFaults, BybitServer
from positionbot.fakes.okx_server import OkxServer
from positionbot.tracker.core.models import OrderSide, OrderStatus, PositionMode, Side
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.conftest import FAST_RETRY, GatewayFactory
from tests.exchange.contract.kits import BTC, BTC_USDC, BYBIT, MARKS, OKX, Kit

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SL = "pb-42-sl-9f0c1a2b3c"


def _venue(kit: Kit, mode: PositionMode = PositionMode.ONE_WAY) -> PaperExchange:
    return PaperExchange(kit.markets(), mode=mode, marks={
        s: p for s, p in MARKS.items() if any(m.symbol == s for m in kit.markets())})


@pytest.fixture
async def bybit(make_gateway_for: GatewayFactory) -> AsyncIterator[tuple[BybitServer, CcxtGateway]]:
    async with BybitServer(_venue(BYBIT)) as server:
        yield server, make_gateway_for(BYBIT, server)


@pytest.fixture
async def bybit_hedge(make_gateway_for: GatewayFactory
                      ) -> AsyncIterator[tuple[BybitServer, CcxtGateway]]:
    async with BybitServer(_venue(BYBIT, PositionMode.HEDGE)) as server:
        yield server, make_gateway_for(BYBIT, server)


@pytest.fixture
async def okx(make_gateway_for: GatewayFactory) -> AsyncIterator[tuple[OkxServer, CcxtGateway]]:
    async with OkxServer(_venue(OKX)) as server:
        yield server, make_gateway_for(OKX, server)


@pytest.fixture
async def okx_hedge(make_gateway_for: GatewayFactory
                    ) -> AsyncIterator[tuple[OkxServer, CcxtGateway]]:
    async with OkxServer(_venue(OKX, PositionMode.HEDGE)) as server:
        yield server, make_gateway_for(OKX, server)


@pytest.fixture
async def make_gateway_for() -> AsyncIterator[GatewayFactory]:
    made: list[CcxtGateway] = []

    def make(kit: Kit, server: BybitServer | OkxServer) -> CcxtGateway:
        gateway = CcxtGateway("acc-1", kit.exchange_id, api_key="k", secret="s",
                              password=kit.password, ccxt_config=kit.ccxt_config(server.base_url),
                              retry=FAST_RETRY)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.close()


# --- Bybit v5 ----------------------------------------------------------------------------------

async def test_bybit_stop_is_a_conditional_order_with_a_direction_on_the_mark(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit
    server.venue.manual_order(BTC, BUY, D("0.010"))

    await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("49000"), SL, hedge=False)

    [sent] = server.sent("/v5/order/create")
    assert (sent["side"], sent["orderType"], sent["qty"], sent["triggerPrice"]) == (
        "Sell", "Market", "0.01", "49000")
    assert (sent["triggerDirection"], sent["triggerBy"], sent["reduceOnly"]) == (
        "2", "MarkPrice", "true")
    assert sent["orderLinkId"] == SL and "positionIdx" not in sent


async def test_bybit_hedge_stop_names_the_leg_and_stays_reduce_only(
        bybit_hedge: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit_hedge
    server.venue.manual_order(BTC, SELL, D("0.010"), position_side=Side.SHORT)

    await gateway.place_stop_loss(BTC, Side.SHORT, D("0.010"), D("51000"), SL, hedge=True)
    await gateway.place_reduce(BTC, Side.SHORT, D("0.004"), "pb-42-close-1", hedge=True)

    stop, close = server.sent("/v5/order/create")
    assert (stop["side"], stop["positionIdx"], stop["reduceOnly"], stop["triggerDirection"]) == (
        "Buy", "2", "true", "1")
    assert (close["side"], close["positionIdx"]) == ("Buy", "2")


async def test_bybit_create_answers_ids_only_so_the_order_is_read_back(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit

    order = await gateway.place_entry(BTC, Side.LONG, D("0.010"), None, "pb-1-entry-a", False)

    assert order.status is OrderStatus.CLOSED and order.filled == D("0.010")
    # A filled order is no longer "open": only openOnly=1 (recent finished orders) shows it.
    first, second = server.sent("/v5/order/realtime", "GET")
    assert first["orderId"] == second["orderId"] == order.id and "orderLinkId" not in first
    assert ("openOnly" in first, second["openOnly"]) == (False, "1")


async def test_bybit_lookup_by_client_id_goes_through_the_listing(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    """ccxt's ``fetch_order`` would send ``orderId=None`` and find nothing."""
    server, gateway = bybit
    server.venue.manual_order(BTC, BUY, D("0.010"))
    await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("49000"), SL, hedge=False)
    server.log.clear()

    found = await gateway.fetch_order(BTC, client_order_id=SL, stop=True)

    assert found is not None and found.client_order_id == SL
    [sent] = server.sent("/v5/order/realtime", "GET")
    assert (sent["orderLinkId"], sent["orderFilter"]) == (SL, "StopOrder")
    assert "orderId" not in sent


async def test_bybit_lists_stops_among_open_orders_and_alone_with_order_filter(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit
    server.venue.manual_order(BTC, BUY, D("0.010"))
    await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("49000"), SL, hedge=False)
    server.log.clear()

    assert await gateway.fetch_open_orders() == []
    assert len(await gateway.fetch_open_stop_orders()) == 1
    plain = server.sent("/v5/order/realtime", "GET")[:3]
    assert all("orderFilter" not in p for p in plain)
    assert [(p["category"], p["settleCoin"]) for p in plain] == [
        ("linear", "USDC"), ("linear", "USDT"), ("inverse", "USDT")]  # ccxt's default coin
    stops = server.sent("/v5/order/realtime", "GET")[3:]
    assert {p["orderFilter"] for p in stops} == {"StopOrder"} and stops[0]["limit"] == "50"


async def test_bybit_cancelled_stop_is_deactivated_and_reads_as_cancelled(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit
    server.venue.manual_order(BTC, BUY, D("0.010"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("49000"), SL, False)

    await gateway.cancel_order(BTC, stop.id, stop=True)

    assert "trigger" not in server.sent("/v5/order/cancel")[0]
    found = await gateway.fetch_order(BTC, order_id=stop.id, stop=True)
    assert found is not None and found.status is OrderStatus.CANCELED
    assert found.triggered_order_id is None
    assert server.sent("/v5/order/realtime", "GET")[-1]["orderFilter"] == "StopOrder"


async def test_bybit_settle_coin_sweep_finds_usdc_positions(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit
    server.venue.manual_order(BTC, BUY, D("0.010"))
    server.venue.manual_order(BTC_USDC, SELL, D("0.020"))

    snapshot = await gateway.fetch_positions()

    assert {(p.symbol, p.side) for p in snapshot.positions} == {(BTC, Side.LONG),
                                                                (BTC_USDC, Side.SHORT)}
    assert [p.get("settleCoin") or p["category"]
            for p in server.sent("/v5/position/list", "GET")] == ["USDC", "USDT", "inverse"]
    assert {p["limit"] for p in server.sent("/v5/position/list", "GET")} == {"200"}


async def test_bybit_more_stops_than_a_page_are_walked_by_cursor(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit
    server.venue.manual_order(BTC, BUY, D("0.100"))
    for i in range(55):
        await gateway.place_stop_loss(BTC, Side.LONG, D("0.001"), D(40000 + i), f"pb-{i}-sl-x",
                                      False)
    server.log.clear()

    assert len(await gateway.fetch_open_stop_orders()) == 55

    usdt = [p for p in server.sent("/v5/order/realtime", "GET")
            if (p["category"], p["settleCoin"]) == ("linear", "USDT")]
    assert [p.get("cursor") for p in usdt] == [None, "50"]


async def test_bybit_system_error_10016_is_transient_and_10006_comes_with_http_200(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit
    await gateway.fetch_positions()
    server.requests.clear()
    server.inject(BybitFaults.system_error("/v5/position/list"),
                  BybitFaults.rate_limited("/v5/position/list"))

    await gateway.fetch_positions()

    assert server.count("/v5/position/list") == 5  # two refused, then USDC, USDT, inverse


async def test_bybit_needs_no_transfer_permission_and_loads_only_contract_markets(
        bybit: tuple[BybitServer, CcxtGateway]) -> None:
    server, gateway = bybit

    await gateway.fetch_positions()
    await gateway.place_entry(BTC, Side.LONG, D("0.010"), None, "pb-2-entry-a", False)

    assert server.count("/v5/user/query-api") == server.count("/v5/asset/coin/query-info") == 0
    assert {p["category"] for p in server.sent("/v5/market/instruments-info", "GET")} == {
        "linear", "inverse"}


async def test_bybit_hedge_fills_take_their_leg_from_closed_size(
        bybit_hedge: tuple[BybitServer, CcxtGateway]) -> None:
    """Bybit's executions carry no position index: a fill that closed something belongs to
    the leg its side reduces."""
    server, gateway = bybit_hedge
    since = server.venue.now() - timedelta(seconds=1)
    server.venue.manual_order(BTC, BUY, D("0.010"), position_side=Side.LONG)
    server.venue.manual_order(BTC, SELL, D("0.010"), position_side=Side.SHORT)
    server.venue.manual_order(BTC, BUY, D("0.004"), position_side=Side.SHORT)
    server.venue.manual_order(BTC, SELL, D("0.003"), position_side=Side.LONG)
    await gateway.fetch_positions()

    fills = await gateway.fetch_fills(BTC, since)

    assert [(f.side, f.position_side) for f in fills] == [
        (BUY, Side.LONG), (SELL, Side.SHORT), (BUY, Side.SHORT), (SELL, Side.LONG)]


# --- OKX v5 ------------------------------------------------------------------------------------

async def test_okx_stop_is_a_conditional_algo_order_on_the_mark(
        okx: tuple[OkxServer, CcxtGateway]) -> None:
    server, gateway = okx
    server.venue.manual_order(BTC, BUY, D("3"))

    stop = await gateway.place_stop_loss(BTC, Side.LONG, D("3"), D("49000"), SL, hedge=False)

    [sent] = server.sent("/api/v5/trade/order-algo")
    assert (sent["ordType"], sent["side"], sent["sz"], sent["slTriggerPx"], sent["slOrdPx"]) == (
        "conditional", "sell", "3", "49000", "-1")
    assert (sent["slTriggerPxType"], sent["reduceOnly"], sent["tdMode"]) == ("mark", "true",
                                                                             "cross")
    assert sent["algoClOrdId"] == "pbX42XslX9f0c1a2b3c"  # letters and digits only
    assert stop.client_order_id == SL and stop.trigger_price == D("49000")


async def test_okx_stops_are_listed_as_conditional_not_trigger(
        okx: tuple[OkxServer, CcxtGateway]) -> None:
    server, gateway = okx
    server.venue.manual_order(BTC, BUY, D("3"))
    await gateway.place_stop_loss(BTC, Side.LONG, D("3"), D("49000"), SL, hedge=False)

    [listed] = await gateway.fetch_open_stop_orders()

    assert listed.trigger_price == D("49000")
    assert server.sent("/api/v5/trade/orders-algo-pending", "GET")[-1]["ordType"] == "conditional"


async def test_okx_hedge_orders_carry_pos_side_and_no_reduce_only(
        okx_hedge: tuple[OkxServer, CcxtGateway]) -> None:
    """ccxt's ``hedged`` with ``reduceOnly`` would flip ``posSide`` and drop the flag."""
    server, gateway = okx_hedge
    await gateway.place_entry(BTC, Side.SHORT, D("2"), None, "pb-5-entry-a", hedge=True)
    await gateway.place_stop_loss(BTC, Side.SHORT, D("2"), D("51000"), SL, hedge=True)
    await gateway.place_reduce(BTC, Side.SHORT, D("1"), "pb-5-close-a", hedge=True)

    entry, close = server.sent("/api/v5/trade/batch-orders")
    [stop] = server.sent("/api/v5/trade/order-algo")
    assert (entry["side"], entry["posSide"]) == ("sell", "short")
    assert (stop["side"], stop["posSide"]) == ("buy", "short") and "reduceOnly" not in stop
    assert (close["side"], close["posSide"]) == ("buy", "short") and "reduceOnly" not in close
    assert [(p.side, p.size) for p in server.venue.positions()] == [(Side.SHORT, D("1"))]


async def test_okx_fired_stop_is_a_new_order_linked_by_algo_id(
        okx: tuple[OkxServer, CcxtGateway]) -> None:
    server, gateway = okx
    since = server.venue.now() - timedelta(seconds=1)
    server.venue.manual_order(BTC, BUY, D("3"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, D("3"), D("49000"), SL, hedge=False)

    server.venue.set_mark(BTC, D("48000"))

    fired = await gateway.fetch_order(BTC, order_id=stop.id, stop=True)
    assert fired is not None and fired.status is OrderStatus.TRIGGERED
    assert fired.triggered_order_id not in (None, stop.id)
    [_, exit_fill] = await gateway.fetch_fills(BTC, since)
    assert exit_fill.order_id == fired.triggered_order_id
    assert server.sent("/api/v5/trade/order-algo", "GET")[-1]["algoId"] == stop.id


async def test_okx_sizes_are_contracts_and_fees_positive(
        okx: tuple[OkxServer, CcxtGateway]) -> None:
    server, gateway = okx
    since = server.venue.now() - timedelta(seconds=1)
    server.venue.manual_order(BTC, BUY, D("3"))  # 3 contracts of 0.01 BTC

    [position] = (await gateway.fetch_positions()).positions
    [fill] = await gateway.fetch_fills(BTC, since)

    assert (position.size, position.contract_size) == (D("3"), D("0.01"))
    assert fill.amount == D("3") and fill.fee == D("3") * D("0.01") * 50000 * D("0.0004") > 0
    [raw] = server.sent("/api/v5/trade/fills-history", "GET")
    assert raw["instType"] == "SWAP"


async def test_okx_reduce_only_refusal_51169_is_a_rejection(
        okx: tuple[OkxServer, CcxtGateway]) -> None:
    _server, gateway = okx

    with pytest.raises(OrderRejectedError, match="51169"):
        await gateway.place_reduce(BTC, Side.LONG, D("1"), "pb-6-close-a", hedge=False)


async def test_okx_client_ids_come_back_in_the_bots_own_form(
        okx: tuple[OkxServer, CcxtGateway]) -> None:
    server, gateway = okx

    order = await gateway.place_entry(BTC, Side.LONG, D("1"), D("40000"), "pb-7-entry-b", False)

    assert server.sent("/api/v5/trade/batch-orders")[0]["clOrdId"] == "pbX7XentryXb"
    assert order.client_order_id == "pb-7-entry-b"
    [listed] = await gateway.fetch_open_orders()
    assert listed.client_order_id == "pb-7-entry-b"


async def test_okx_more_stops_than_a_page_are_walked_with_after(
        okx: tuple[OkxServer, CcxtGateway]) -> None:
    server, gateway = okx
    server.venue.manual_order(BTC, BUY, D("200"))
    for i in range(105):
        await gateway.place_stop_loss(BTC, Side.LONG, D("1"), D(40000 + i), f"pb-{i}-sl-x", False)
    server.log.clear()

    stops = await gateway.fetch_open_stop_orders()

    assert len({s.id for s in stops}) == 105
    first, second = server.sent("/api/v5/trade/orders-algo-pending", "GET")
    assert (first["limit"], "after" in first) == ("100", False)
    newest = sorted((int(s.id) for s in stops), reverse=True)[:100]
    assert int(second["after"]) == min(newest)


async def test_bybit_fills_older_than_a_week_are_walked_window_by_window(
        make_gateway_for: GatewayFactory) -> None:
    now = datetime.now(UTC)
    moment = [now - timedelta(days=10)]
    venue = PaperExchange(BYBIT.markets(), marks={BTC: D("50000")}, clock=lambda: moment[0])
    venue.manual_order(BTC, BUY, D("0.010"))
    moment[0] = now - timedelta(days=2)
    venue.manual_order(BTC, SELL, D("0.010"))
    async with BybitServer(venue) as server:
        gateway = make_gateway_for(BYBIT, server)

        fills = await gateway.fetch_fills(BTC, now - timedelta(days=12))

        assert [f.side for f in fills] == [BUY, SELL]
        windows = [(int(p["startTime"]), int(p["endTime"]))
                   for p in server.sent("/v5/execution/list", "GET")]
        assert len(windows) == 2 and all(end - start < 7 * 24 * 3600 * 1000
                                         for start, end in windows)
        assert windows[1][0] == windows[0][1] + 1


@pytest.mark.parametrize(("coins", "requests"), [(None, 6), (["USDT", "USDC"], 4), (["USDT"], 2)])
async def test_bybit_settle_coins_narrow_the_sweep(coins: list[str] | None, requests: int) -> None:
    async with BybitServer(_venue(BYBIT)) as server:
        gateway = CcxtGateway("acc-1", "bybit", api_key="k", secret="s", retry=FAST_RETRY,
                              ccxt_config=BYBIT.ccxt_config(server.base_url), settle_coins=coins)
        try:
            await gateway.fetch_positions()
            server.requests.clear()

            await gateway.fetch_positions()
            await gateway.fetch_open_stop_orders()

            assert server.total_requests == requests
        finally:
            await gateway.close()
