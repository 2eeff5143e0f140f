"""Fills of many symbols in one listing where the exchange has one (Bybit's executions, OKX's
fills history), per symbol on Binance; exact either way, and a symbol the listing's pages do
not reach back far enough for is still fetched on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.models import OrderSide, Trade
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt import fill_listing
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.kits import BTC, ETH, Kit, Server

D = Decimal
BUY = OrderSide.BUY
ACCOUNT = "acc-1"


def _since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


async def test_one_listing_holds_the_fills_of_every_symbol_asked(
        kit: Kit, server: Server, gateway: CcxtGateway, venue: PaperExchange) -> None:
    since = _since()
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    venue.manual_order(ETH, BUY, kit.qty("0.100", ETH))
    venue.manual_order(BTC, BUY, kit.qty("0.020"))
    await gateway.markets()
    before = server.count(kit.fills)

    listing = await gateway.fetch_fills_listing([BTC, ETH], since)

    if kit.name == "binance":  # userTrades needs a symbol
        assert listing is None and server.count(kit.fills) == before
        return
    assert listing is not None and server.count(kit.fills) == before + 1
    assert listing.complete_from <= since
    for symbol in (BTC, ETH):
        alone = await gateway.fetch_fills(symbol, since)
        assert list(listing.fills[symbol]) == alone
        assert [f.amount for f in alone] == [f.amount for f in venue.fills if f.symbol == symbol]


async def _tracker(tmp_path: Path, gateway: CcxtGateway) -> AsyncIterator[SimplePositionTracker]:
    store = await Store.open(tmp_path / "state.db", recipients=fixed_recipients([1001]))
    tracker = SimplePositionTracker(store, {ACCOUNT: gateway}, TrackerSettings(verify_delay=0),
                                    sleep=asyncio.sleep)
    await tracker.start()
    report = await tracker.run_cycle(ACCOUNT)  # the first sync: the fill epoch
    assert report.ok, report.errors
    yield tracker
    await store.close()


@pytest.fixture
async def tracker(tmp_path: Path, gateway: CcxtGateway) -> AsyncIterator[SimplePositionTracker]:
    async for made in _tracker(tmp_path, gateway):
        yield made


def _open(tracker: SimplePositionTracker) -> dict[str, Trade]:
    return {t.symbol: t for t in tracker.book.active_trades(ACCOUNT)}


async def test_a_cycle_prices_changes_on_many_symbols_from_one_listing(
        kit: Kit, server: Server, venue: PaperExchange,
        tracker: SimplePositionTracker) -> None:
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    venue.manual_order(ETH, BUY, kit.qty("0.100", ETH))
    before = server.count(kit.fills)

    report = await tracker.run_cycle(ACCOUNT)

    assert report.ok, report.errors
    assert server.count(kit.fills) - before == (2 if kit.name == "binance" else 1)
    trades = _open(tracker)
    for symbol in (BTC, ETH):  # priced from the fills: their fees, to the digit
        assert trades[symbol].fees == venue.fees_paid(symbol) > 0


async def test_a_symbol_older_than_the_listing_reaches_is_fetched_on_its_own(
        kit: Kit, server: Server, venue: PaperExchange, tracker: SimplePositionTracker,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fill_listing, "LISTING_PAGES", 1)
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    await asyncio.sleep(0.01)  # the BTC fill is older than every ETH one
    for _ in range(120):  # more than one page of 100
        venue.manual_order(ETH, BUY, kit.qty("0.100", ETH))

    report = await tracker.run_cycle(ACCOUNT)

    assert report.ok, report.errors
    trades = _open(tracker)
    assert trades[BTC].fees == venue.fees_paid(BTC) > 0
    assert trades[ETH].fees == venue.fees_paid(ETH) > 0
    assert trades[ETH].size == kit.qty("12.000", ETH)
