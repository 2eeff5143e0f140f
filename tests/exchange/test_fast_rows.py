"""The Binance fast path's change test: a listing is compared with the last one on its
significant columns only, and built again only when one of them moved — whether its body was
decoded on those columns (``listing_columns``) or read row by row (a body they do not fit).

The rows are the fake's real wire rows read through real ccxt; a test edits a copy of them as
the exchange's next answer would differ, and hands it over either way (``Kind``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import BinanceServer
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.exchange.ccxt.fast_positions import BinancePositionRows, BinanceStopRows
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.listing_columns import POSITIONS, STOPS, Listing
from positionbot.tracker.exchange.ccxt.normalize import Malformed
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.exchange import BTC, ETH, SOL, D, GatewayFactory

Rows = list[dict[str, Any]]
DOGE = "DOGE/USDT:USDT"
Kind = Callable[[Rows], "Rows | Listing"]


def _decoded(decoder: Any) -> Kind:
    def listing(rows: Rows) -> Listing:
        body = json.dumps(rows)
        return Listing(body, decoder.decode(body), json.loads)
    return listing


def _as_rows(rows: Rows) -> Rows:
    return copy.deepcopy(rows)


POSITION_KINDS = pytest.mark.parametrize("kind", [_decoded(POSITIONS), _as_rows],
                                         ids=["decoded", "row by row"])


class HandClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _rows(venue: PaperExchange, gateway: CcxtGateway) -> tuple[Rows, BinancePositionRows]:
    venue.manual_order(BTC, OrderSide.BUY, D("0.013"))
    venue.manual_order(ETH, OrderSide.SELL, D("1.5"))
    await gateway.markets()
    exchange = gateway._exchange
    listing = await BinancePositionRows(exchange).fetch()
    assert isinstance(listing, Listing)  # the fake's body fits the columns
    return listing.rows(), BinancePositionRows(exchange)


def _edited(rows: Rows, column: str, value: object) -> Rows:
    fresh = copy.deepcopy(rows)
    fresh[0][column] = value
    return fresh


@POSITION_KINDS
@pytest.mark.parametrize(("column", "value"), [
    ("positionAmt", "0.02"), ("entryPrice", "50123.4"), ("isolatedWallet", "12.5"),
    ("positionSide", "LONG"),
])
async def test_a_move_in_any_one_significant_column_is_a_change(
        venue: PaperExchange, gateway: CcxtGateway, column: str, value: str, kind: Kind) -> None:
    rows, reader = await _rows(venue, gateway)
    markets = await gateway.markets()
    first = reader.positions(kind(rows), markets)
    assert reader.positions(kind(rows), markets) is first  # equal rows: no change

    second = reader.positions(kind(_edited(rows, column, value)), markets)
    assert second is not first and len(second) == 2  # the cycle does its work
    assert second[0] is not first[0] and second[1] is first[1]  # that row alone was built again


@POSITION_KINDS
async def test_a_move_in_the_mark_only_is_no_change_but_marks_refresh_on_time(
        venue: PaperExchange, gateway: CcxtGateway, kind: Kind) -> None:
    rows, _ = await _rows(venue, gateway)
    clock = HandClock()
    reader = BinancePositionRows(gateway._exchange, mark_refresh_s=60.0, clock=clock)
    markets = await gateway.markets()
    first = reader.positions(kind(rows), markets)
    moved = copy.deepcopy(rows)
    for row in moved:
        row["markPrice"], row["unRealizedProfit"] = "1234.5", "-99"

    clock.now += 59
    assert reader.positions(kind(moved), markets) is first  # marks alone: nothing to do
    clock.now += 1
    refreshed = reader.positions(kind(moved), markets)
    assert refreshed is not first and {p.mark_price for p in refreshed} == {D("1234.5")}
    assert [(p.symbol, p.size, p.entry_price) for p in refreshed] == [
        (p.symbol, p.size, p.entry_price) for p in first]


async def test_a_listing_with_a_row_that_is_not_an_object_is_malformed(
        venue: PaperExchange, gateway: CcxtGateway) -> None:
    rows, reader = await _rows(venue, gateway)
    markets = await gateway.markets()
    with pytest.raises(Malformed):
        reader.positions([*rows, ["BTCUSDT", "BOTH"]], markets)  # first read
    with pytest.raises(msgspec.ValidationError):
        _decoded(POSITIONS)([*rows, ["BTCUSDT", "BOTH"]])  # such a body is read row by row
    first = reader.positions(rows, markets)
    with pytest.raises(Malformed):
        reader.positions([["BTCUSDT", "BOTH"], *rows[1:]], markets)  # compared with the last
    assert reader.positions(rows, markets) is first  # the glitch changed nothing


async def test_a_row_missing_a_significant_column_is_read_row_by_row_and_named(
        venue: PaperExchange, gateway: CcxtGateway) -> None:
    rows, reader = await _rows(venue, gateway)
    markets = await gateway.markets()
    reader.positions(rows, markets)
    broken = copy.deepcopy(rows)
    del broken[0]["entryPrice"]
    with pytest.raises(Malformed, match="entry"):  # never read as closed
        reader.positions(broken, markets)


@pytest.mark.parametrize("decoded", [True, False], ids=["decoded", "row by row"])
@pytest.mark.parametrize(("column", "value", "moved"), [
    ("quantity", "0.01", True), ("triggerPrice", "44000", True), ("algoStatus", "CANCELED", True),
    ("updateTime", 1, False), ("clientAlgoId", "renamed", False),
])
async def test_stops_move_on_a_significant_column_only(
        venue: PaperExchange, server: BinanceServer, make_gateway: GatewayFactory,
        column: str, value: object, moved: bool, decoded: bool) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.013"))
    venue.manual_order(ETH, OrderSide.SELL, D("1.5"))
    gateway = make_gateway(server)
    await gateway.place_stop_loss(BTC, Side.LONG, D("0.013"), D("45000"), "sl-btc", False)
    await gateway.place_stop_loss(ETH, Side.SHORT, D("1.5"), D("3300"), "sl-eth", False)
    rows = await gateway._exchange.fapiPrivateGetOpenAlgoOrders({})
    kind = _decoded(STOPS) if decoded else _as_rows
    stops = BinanceStopRows(gateway._exchange)
    first = stops.orders(kind(rows))
    assert stops.orders(kind(rows)) is first and len(first) == 2

    second = stops.orders(kind(_edited(rows, column, value)))
    assert (second is not first) is moved
    if moved:
        assert second[1] is first[1] and second[0] != first[0]


def _without_entry(rows: Rows) -> Rows:
    rows[0].pop("entryPrice")
    return rows


def _sizes_as_numbers(rows: Rows) -> Rows:
    for row in rows:
        row["positionAmt"] = float(row["positionAmt"])
    return rows


async def test_a_body_the_columns_do_not_fit_is_read_row_by_row_through_the_gateway(
        venue: PaperExchange, server: BinanceServer, gateway: CcxtGateway) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.013"))
    assert [p.size for p in (await gateway.fetch_positions()).positions] == [D("0.013")]
    server.inject(Fault.rewrite(_without_entry, "/positionRisk"))
    with pytest.raises(Malformed, match="entry"):  # a glitch, never a close
        await gateway.fetch_positions()
    server.inject(Fault.rewrite(_sizes_as_numbers, "/positionRisk"))
    assert [p.size for p in (await gateway.fetch_positions()).positions] == [D("0.013")]


def _key(p: Any) -> tuple[str, str]:
    return p.symbol, p.side.value


async def test_a_few_moved_rows_are_the_only_ones_parsed_and_built(
        hedge_venue: PaperExchange, hedge_gateway: CcxtGateway) -> None:
    """Eight rows (four symbols, both legs); what a fresh full read gives is the reference."""
    for symbol, mark in ((SOL, "150"), (DOGE, "0.1")):
        hedge_venue.set_mark(symbol, D(mark))
    for symbol, amount in ((BTC, "0.01"), (ETH, "0.5"), (SOL, "3"), (DOGE, "500")):
        hedge_venue.manual_order(symbol, OrderSide.BUY, D(amount), position_side=Side.LONG)
        hedge_venue.manual_order(symbol, OrderSide.SELL, D(amount), position_side=Side.SHORT)
    markets = await hedge_gateway.markets()
    exchange = hedge_gateway._exchange
    listing = await BinancePositionRows(exchange).fetch()
    assert isinstance(listing, Listing)
    rows, reader = listing.rows(), BinancePositionRows(exchange)
    parsed: list[int] = []  # rows parsed in full, per parse

    def parse(body: str) -> Any:
        answer = json.loads(body)
        parsed.append(len(answer) if isinstance(answer, list) else 1)
        return answer

    def decode(rows: Rows) -> Listing:
        body = json.dumps(rows)
        return Listing(body, POSITIONS.decode(body), parse)

    def reference(rows: Rows) -> list[Any]:
        return sorted(BinancePositionRows(exchange).positions(_as_rows(rows), markets), key=_key)

    first = reader.positions(decode(rows), markets)
    assert len(first) == 8
    built, parsed[:] = reader.rows_built, []
    moved = _edited(rows, "entryPrice", "50001")
    second = reader.positions(decode(moved), markets)
    assert reader.rows_built == built + 1 and parsed == [1]  # that row alone
    assert sorted(second, key=_key) == reference(moved)
    assert sum(any(p is q for q in first) for p in second) == 7

    fewer = copy.deepcopy(moved[1:])  # a leg closed, another reads zero
    fewer[0]["positionAmt"] = "0"
    third = reader.positions(decode(fewer), markets)
    assert sorted(third, key=_key) == reference(fewer) and len(third) == 6

    twice = [*copy.deepcopy(fewer), copy.deepcopy(fewer[1])]  # two rows name one position
    assert sorted(reader.positions(decode(twice), markets), key=_key) == reference(twice)


async def test_a_few_moved_stops_are_the_only_ones_parsed_and_built(
        hedge_venue: PaperExchange, hedge_gateway: CcxtGateway) -> None:
    hedge_venue.set_mark(SOL, D("150"))
    for symbol, amount in ((BTC, "0.01"), (ETH, "0.5"), (SOL, "3")):
        for side, order_side in ((Side.LONG, OrderSide.BUY), (Side.SHORT, OrderSide.SELL)):
            hedge_venue.manual_order(symbol, order_side, D(amount), position_side=side)
            trigger = {BTC: "45000", ETH: "2800", SOL: "140"}[symbol]
            if side is Side.SHORT:
                trigger = str(D(trigger) * 2)
            await hedge_gateway.place_stop_loss(symbol, side, D(amount), D(trigger),
                                                f"sl-{symbol[:3]}-{side.value}", True)
    rows = await hedge_gateway._exchange.fapiPrivateGetOpenAlgoOrders({})
    parsed: list[int] = []

    def parse(body: str) -> Any:
        answer = json.loads(body)
        parsed.append(len(answer) if isinstance(answer, list) else 1)
        return answer

    def decode(rows: Rows) -> Listing:
        body = json.dumps(rows)
        return Listing(body, STOPS.decode(body), parse)

    stops = BinanceStopRows(hedge_gateway._exchange)
    first = stops.orders(decode(rows))
    assert len(first) == 6 and parsed == [6]
    moved = _edited(rows, "quantity", "0.02")
    second = stops.orders(decode(moved))
    assert parsed == [6, 1] and second[0].amount == D("0.02")
    assert all(a is b for a, b in zip(first[1:], second[1:], strict=True))
    assert second == BinanceStopRows(hedge_gateway._exchange).orders(_as_rows(moved))
    twice = [*moved, copy.deepcopy(moved[2])]  # one id twice: the full read's rules
    assert stops.orders(decode(twice)) == BinanceStopRows(hedge_gateway._exchange).orders(
        _as_rows(twice))
