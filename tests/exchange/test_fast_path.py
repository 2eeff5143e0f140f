"""The Binance fast path: raw rows read through ccxt's implicit API, built only when changed.

It must read exactly what ccxt's unified parse path reads, hand back the very same objects when
nothing changed (the cycle relies on that identity to skip its work), and never let that skip
hide a change: a trade by hand, a stop removed by hand, a close (verified per symbol).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from positionbot.fakes.binance_server import BinanceServer
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide, Position, Side, TradeStatus
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.exchange import BTC, ETH, SOL, D, GatewayFactory


def _sorted(positions: tuple[Position, ...]) -> list[Position]:
    return sorted(positions, key=lambda p: (p.symbol, p.side.value))


def _book(venue: PaperExchange, server: BinanceServer) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.013"))
    venue.manual_order(ETH, OrderSide.SELL, D("1.5"))
    server.leverage[BTC] = 10
    server.liquidation[ETH] = D("3512.25")


async def test_fast_and_unified_paths_read_the_same_one_way_positions(
        venue: PaperExchange, server: BinanceServer, make_gateway: GatewayFactory) -> None:
    _book(venue, server)
    fast, unified = make_gateway(server), make_gateway(server, fast_path=False)
    a, b = await fast.fetch_positions(), await unified.fetch_positions()
    assert _sorted(a.positions) == _sorted(b.positions) and len(a.positions) == 2
    assert a.mode is b.mode


async def test_fast_and_unified_paths_read_the_same_hedge_positions(
        hedge_venue: PaperExchange, hedge_server: BinanceServer,
        make_gateway: GatewayFactory) -> None:
    hedge_venue.manual_order(BTC, OrderSide.BUY, D("0.02"), position_side=Side.LONG)
    hedge_venue.manual_order(BTC, OrderSide.SELL, D("0.005"), position_side=Side.SHORT)
    fast, unified = make_gateway(hedge_server), make_gateway(hedge_server, fast_path=False)
    a, b = await fast.fetch_positions(), await unified.fetch_positions()
    assert _sorted(a.positions) == _sorted(b.positions) and len(a.positions) == 2
    assert a.mode is b.mode


async def test_unchanged_rows_give_back_the_same_objects_and_a_changed_row_is_rebuilt(
        venue: PaperExchange, server: BinanceServer, make_gateway: GatewayFactory) -> None:
    _book(venue, server)
    fast, unified = make_gateway(server), make_gateway(server, fast_path=False)
    first = await fast.fetch_positions()
    assert (await fast.fetch_positions()).positions is first.positions

    venue.manual_order(BTC, OrderSide.BUY, D("0.003"))
    third = await fast.fetch_positions()
    assert third.positions is not first.positions
    eth = next(p for p in first.positions if p.symbol == ETH)
    assert any(p is eth for p in third.positions)
    assert next(p for p in third.positions if p.symbol == BTC).size == D("0.016")
    assert _sorted(third.positions) == _sorted((await unified.fetch_positions()).positions)


async def test_open_stops_read_the_same_and_unchanged_lists_are_the_same_list(
        venue: PaperExchange, server: BinanceServer, make_gateway: GatewayFactory) -> None:
    _book(venue, server)
    fast, unified = make_gateway(server), make_gateway(server, fast_path=False)
    await fast.place_stop_loss(BTC, Side.LONG, D("0.013"), D("45000"), "sl-btc", False)
    await fast.place_stop_loss(ETH, Side.SHORT, D("1.5"), D("3300"), "sl-eth", False)
    stops = await fast.fetch_open_stop_orders()
    assert sorted(stops, key=lambda o: o.id) == sorted(await unified.fetch_open_stop_orders(),
                                                       key=lambda o: o.id)
    assert await fast.fetch_open_stop_orders() is stops
    await fast.cancel_order(BTC, next(o.id for o in stops if o.symbol == BTC), stop=True)
    assert [o.symbol for o in await fast.fetch_open_stop_orders()] == [ETH]


async def test_positions_of_a_few_symbols_ask_for_those_symbols_only(
        venue: PaperExchange, server: BinanceServer, make_gateway: GatewayFactory) -> None:
    _book(venue, server)
    fast = make_gateway(server)
    assert [p.symbol for p in (await fast.fetch_positions_of([BTC, SOL])).positions] == [BTC]
    asked = [entry.get("symbol") for entry in server.sent("/fapi/v3/positionRisk", "GET")]
    assert asked == ["BTCUSDT", "SOLUSDT"]
    unified = make_gateway(server, fast_path=False)  # ccxt filters the one listing it asks for
    assert [p.symbol for p in (await unified.fetch_positions_of([BTC, SOL])).positions] == [BTC]


async def test_a_settled_book_still_sees_trades_stops_removed_and_closes_by_hand(
        tmp_path: Path, venue: PaperExchange, server: BinanceServer,
        gateway: CcxtGateway) -> None:
    """Cycles in a row, each after something changed by hand or after cycles that settled."""
    _book(venue, server)
    store = await Store.open(tmp_path / "state.db")
    try:
        await _settled_book_sees_every_change(
            SimplePositionTracker(store, {"acc-1": gateway}, TrackerSettings(verify_delay=0)),
            venue, server)
    finally:
        await store.close()


async def _settled_book_sees_every_change(tracker: SimplePositionTracker, venue: PaperExchange,
                                          server: BinanceServer) -> None:
    await tracker.start(announce=False)
    assert (await tracker.run_cycle("acc-1")).ok
    btc = next(t for t in tracker.book.active_trades("acc-1") if t.symbol == BTC)
    await tracker.commit_trade(replace(btc, stop_loss_price=D("45000")), [])
    for _ in range(3):  # places the stop, then settles
        assert (await tracker.run_cycle("acc-1")).ok
    stop_id = next(t for t in tracker.book.active_trades("acc-1") if t.symbol == BTC
                   ).stop_loss_order_id
    assert stop_id is not None

    venue.manual_order(ETH, OrderSide.SELL, D("0.5"))
    report = await tracker.run_cycle("acc-1")
    assert [c.kind.value for c in report.changes] == ["increased"]

    venue.cancel_order(BTC, stop_id, stop=True)
    await tracker.run_cycle("acc-1")
    assert next(t for t in tracker.book.active_trades("acc-1")
                if t.symbol == BTC).stop_loss_order_id is None

    for _ in range(2):
        await tracker.run_cycle("acc-1")
    venue.manual_order(BTC, OrderSide.SELL, D("0.013"), reduce_only=True)
    before = server.count("/fapi/v3/positionRisk")
    report = await tracker.run_cycle("acc-1")
    assert report.verified and [c.kind.value for c in report.changes] == ["closed"]
    assert server.count("/fapi/v3/positionRisk") - before == 2
    assert server.sent("/fapi/v3/positionRisk", "GET")[-1].get("symbol") == "BTCUSDT"
    assert [t.symbol for t in tracker.book.active_trades("acc-1")
            if t.status is TradeStatus.OPEN] == [ETH]
