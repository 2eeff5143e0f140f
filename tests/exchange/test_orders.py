"""Orders through real ccxt: ordinary orders and Algo-service stop losses kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from positionbot.fakes.binance_server import BinanceServer
from positionbot.tracker.core.models import OrderSide, OrderStatus, Side
from positionbot.tracker.engine.ports import OrderRejectedError, PermanentExchangeError
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.exchange import BTC, ETH

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def _since() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


async def test_stop_loss_one_way_is_a_reduce_only_algo_stop(gateway: CcxtGateway,
                                                            server: BinanceServer,
                                                            venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.015"))

    order = await gateway.place_stop_loss(BTC, Side.LONG, D("0.0159"), D("48000.04"), "sl-1",
                                          hedge=False)

    [sent] = server.sent("/fapi/v1/algoOrder")
    assert sent["algoType"] == "CONDITIONAL" and sent["type"] == "STOP_MARKET"
    assert (sent["side"], sent["quantity"], sent["triggerPrice"]) == ("SELL", "0.015", "48000")
    assert sent["reduceOnly"] == "true" and "positionSide" not in sent
    assert sent["clientAlgoId"] == "sl-1" and sent["workingType"] == "MARK_PRICE"
    assert server.count("/fapi/v1/order", "POST") == 0
    assert order.is_stop and order.status is OrderStatus.OPEN
    assert (order.side, order.amount, order.trigger_price) == (SELL, D("0.015"), D("48000"))
    assert order.reduce_only and order.client_order_id == "sl-1"
    [resting] = venue.open_stop_orders()
    assert resting.id == order.id and resting.trigger_price == D("48000")


async def test_stop_loss_hedge_mode_names_the_side_without_reduce_only(
        hedge_gateway: CcxtGateway, hedge_server: BinanceServer,
        hedge_venue: PaperExchange) -> None:
    hedge_venue.manual_order(BTC, SELL, D("0.010"), position_side=Side.SHORT)

    order = await hedge_gateway.place_stop_loss(BTC, Side.SHORT, D("0.010"), D("52000"),
                                                "sl-h", hedge=True)

    [sent] = hedge_server.sent("/fapi/v1/algoOrder")
    assert (sent["side"], sent["positionSide"], sent["quantity"]) == ("BUY", "SHORT", "0.01")
    assert "reduceOnly" not in sent
    assert order.position_side is Side.SHORT and order.side is BUY


async def test_open_orders_and_stop_orders_are_listed_apart(gateway: CcxtGateway,
                                                            server: BinanceServer,
                                                            venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))
    limit = venue.manual_order(ETH, BUY, D("0.100"), price=D("2900"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("45000"), "sl-2", False)

    ordinary = await gateway.fetch_open_orders()
    stops = await gateway.fetch_open_stop_orders()

    assert [(o.id, o.type, o.price, o.is_stop) for o in ordinary] == [
        (limit.id, "limit", D("2900"), False)]
    assert [(o.id, o.is_stop, o.type) for o in stops] == [(stop.id, True, "stop_market")]
    assert server.count("/fapi/v1/openOrders") == 1
    assert server.count("/fapi/v1/openAlgoOrders") == 1
    assert "symbol" not in server.sent("/openOrders", "GET")[0]


async def test_stop_loss_fetched_by_id_and_client_id_then_cancelled(
        gateway: CcxtGateway, server: BinanceServer, venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))
    placed = await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("45000"), "sl-3", False)

    by_id = await gateway.fetch_order(BTC, order_id=placed.id, stop=True)
    by_client = await gateway.fetch_order(BTC, client_order_id="sl-3", stop=True)
    assert by_id == by_client and by_id is not None and by_id.status is OrderStatus.OPEN

    await gateway.cancel_order(BTC, placed.id, stop=True)
    await gateway.cancel_order(BTC, placed.id, stop=True)  # already gone: not an error

    assert await gateway.fetch_open_stop_orders() == []
    cancelled = await gateway.fetch_order(BTC, order_id=placed.id, stop=True)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELED
    assert server.count("/fapi/v1/algoOrder", "DELETE") == 2


async def test_unknown_order_is_none(gateway: CcxtGateway) -> None:
    assert await gateway.fetch_order(BTC, order_id="123", stop=True) is None
    assert await gateway.fetch_order(BTC, client_order_id="nope") is None


async def test_fired_stop_links_to_the_fill_of_its_new_order(gateway: CcxtGateway,
                                                             venue: PaperExchange) -> None:
    since = _since()
    venue.manual_order(BTC, BUY, D("0.010"))
    stop = await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("49000"), "sl-4", False)

    venue.set_mark(BTC, D("48950.5"))

    fired = await gateway.fetch_order(BTC, order_id=stop.id, stop=True)
    assert fired is not None and fired.status is OrderStatus.TRIGGERED
    fills = await gateway.fetch_fills(BTC, since)
    exit_fill = fills[-1]
    assert fired.triggered_order_id == exit_fill.order_id
    assert (exit_fill.side, exit_fill.amount, exit_fill.price) == (SELL, D("0.010"),
                                                                    D("48950.5"))
    assert await gateway.fetch_open_stop_orders() == []
    assert (await gateway.fetch_positions()).positions == ()


async def test_market_entry_fills_and_limit_entry_rests(gateway: CcxtGateway,
                                                        server: BinanceServer,
                                                        venue: PaperExchange) -> None:
    market = await gateway.place_entry(BTC, Side.LONG, D("0.0101"), None, "in-1", hedge=False)
    limit = await gateway.place_entry(ETH, Side.SHORT, D("0.5"), D("3100.004"), "in-2", False)

    assert market.status is OrderStatus.CLOSED and market.filled == D("0.010")
    assert market.client_order_id == "in-1" and not market.reduce_only
    assert limit.status is OrderStatus.OPEN and limit.price == D("3100")
    assert (limit.side, limit.amount) == (SELL, D("0.500"))
    sent = server.sent("/fapi/v1/order")
    assert [s["type"] for s in sent] == ["MARKET", "LIMIT"]
    assert sent[1]["price"] == "3100" and sent[1]["timeInForce"] == "GTC"
    assert [p.size for p in venue.positions()] == [D("0.010")]


async def test_partial_fill_of_a_resting_limit(gateway: CcxtGateway, venue: PaperExchange) -> None:
    limit = await gateway.place_entry(ETH, Side.LONG, D("1.000"), D("2950"), "in-3", False)

    venue.fill_order(limit.id, D("0.400"))

    partial = await gateway.fetch_order(ETH, client_order_id="in-3")
    assert partial is not None and partial.status is OrderStatus.OPEN
    assert partial.filled == D("0.400") and partial.amount == D("1.000")
    [position] = (await gateway.fetch_positions()).positions
    assert position.size == D("0.400") and position.entry_price == D("2950")


async def test_hedge_entry_and_reduce_carry_the_position_side(hedge_gateway: CcxtGateway,
                                                              hedge_server: BinanceServer,
                                                              hedge_venue: PaperExchange) -> None:
    await hedge_gateway.place_entry(BTC, Side.SHORT, D("0.020"), None, "in-h", hedge=True)
    closed = await hedge_gateway.place_reduce(BTC, Side.SHORT, D("0.005"), "out-h", hedge=True)

    entry, reduce = hedge_server.sent("/fapi/v1/order")
    assert (entry["side"], entry["positionSide"]) == ("SELL", "SHORT")
    assert (reduce["side"], reduce["positionSide"]) == ("BUY", "SHORT")
    assert "reduceOnly" not in reduce
    assert closed.filled == D("0.005")
    [position] = hedge_venue.positions()
    assert (position.side, position.size) == (Side.SHORT, D("0.015"))


async def test_one_way_reduce_is_reduce_only(gateway: CcxtGateway, server: BinanceServer,
                                             venue: PaperExchange) -> None:
    venue.manual_order(ETH, SELL, D("0.300"))

    await gateway.place_reduce(ETH, Side.SHORT, D("0.100"), "out-1", hedge=False)

    [sent] = server.sent("/fapi/v1/order")
    assert (sent["side"], sent["reduceOnly"], sent["quantity"]) == ("BUY", "true", "0.1")
    assert venue.positions()[0].size == D("0.200")


async def test_rejected_order_is_not_retried(gateway: CcxtGateway, server: BinanceServer) -> None:
    with pytest.raises(OrderRejectedError, match="-2022"):
        await gateway.place_reduce(BTC, Side.LONG, D("0.010"), "out-2", hedge=False)

    assert server.count("/fapi/v1/order", "POST") == 1


async def test_stop_that_would_trigger_at_once_is_rejected(gateway: CcxtGateway,
                                                           server: BinanceServer,
                                                           venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, D("0.010"))

    with pytest.raises(OrderRejectedError, match="-2021"):
        await gateway.place_stop_loss(BTC, Side.LONG, D("0.010"), D("50500"), "sl-5", False)

    assert server.count("/fapi/v1/algoOrder", "POST") == 1
    assert venue.open_stop_orders() == []


async def test_amount_below_the_step_is_rejected_before_sending(gateway: CcxtGateway,
                                                                server: BinanceServer) -> None:
    await gateway.markets()

    with pytest.raises(OrderRejectedError, match="amount"):
        await gateway.place_entry(BTC, Side.LONG, D("0.0004"), None, "in-4", hedge=False)

    assert server.count("/fapi/v1/order") == 0


async def test_unknown_symbol_is_permanent_and_not_retried(gateway: CcxtGateway,
                                                           server: BinanceServer) -> None:
    await gateway.markets()

    with pytest.raises(PermanentExchangeError, match="symbol"):
        await gateway.fetch_order("XYZ/USDT:USDT", order_id="1")
    with pytest.raises(PermanentExchangeError, match="symbol"):
        await gateway.fetch_fills("XYZ/USDT:USDT", _since())

    assert server.total_requests == 1  # the market load; nothing reached the server after it


async def test_open_orders_per_symbol_where_the_exchange_needs_one(
        gateway: CcxtGateway, server: BinanceServer, venue: PaperExchange) -> None:
    """Some exchanges refuse to list open orders without a symbol (ccxt raises
    ArgumentsRequired before any request): the gateway then asks per symbol of interest."""
    import ccxt.async_support as ccxt

    exchange = gateway._exchange
    listing = exchange.fetch_open_orders

    async def symbol_required(symbol: str | None = None, *args: object) -> object:
        if symbol is None:
            raise ccxt.ArgumentsRequired("fetchOpenOrders() requires a symbol argument")
        return await listing(symbol, *args)

    exchange.fetch_open_orders = symbol_required
    btc = venue.manual_order(BTC, BUY, D("0.003"), price=D("40000"))
    eth = venue.manual_order(ETH, BUY, D("0.100"), price=D("2900"))

    first = await gateway.fetch_open_orders([BTC, ETH, BTC])
    assert sorted(o.id for o in first) == sorted([btc.id, eth.id])
    assert [o.id for o in await gateway.fetch_open_orders([ETH])] == [eth.id]
    assert [q["symbol"] for q in server.sent("/openOrders", "GET")] == ["BTCUSDT", "ETHUSDT", "ETHUSDT"]
