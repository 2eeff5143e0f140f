"""Funding history and the wallet over real ccxt against the Binance fake: exact decimals from
Binance's own strings, and one request each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from positionbot.fakes.binance_server import BinanceServer
from positionbot.storage.store import Store
from positionbot.tracker.core.funding import FundingSettings
from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.income import IncomeType
from tests.support.exchange import BTC, ETH

D = Decimal


async def test_funding_payments_come_with_their_ids_and_exact_amounts(
        venue: PaperExchange, server: BinanceServer, gateway: CcxtGateway) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.013"))
    venue.manual_order(ETH, OrderSide.SELL, D("0.37"))
    paid = venue.apply_funding(BTC, D("0.00012345")) + venue.apply_funding(ETH, D("0.0001"))
    payments = await gateway.fetch_funding(datetime.now(UTC) - timedelta(hours=1))
    assert [(p.id, p.symbol, p.amount) for p in payments] == [
        (r.id, r.symbol, r.amount) for r in paid]
    assert payments[0].amount == D("-0.0802425000")  # a long pays: 0.013 * 50000 * 0.00012345
    assert payments[1].amount == D("0.1110000")  # a short receives
    [request] = [e.params for e in server.log if e.path == "/fapi/v1/income"]
    assert request["incomeType"] == "FUNDING_FEE" and "symbol" not in request
    later = await gateway.fetch_funding(payments[-1].at + timedelta(milliseconds=1))
    assert later == []


async def test_balance_reads_the_usdt_asset_exactly(
        venue: PaperExchange, server: BinanceServer, gateway: CcxtGateway) -> None:
    venue.manual_order(BTC, OrderSide.BUY, D("0.01"))
    venue.set_mark(BTC, D("51000"))
    venue.apply_funding(BTC, D("0.0001"))
    balance = await gateway.fetch_balance()
    fees = -sum((r.amount for r in venue.income.rows(type=IncomeType.COMMISSION)), D(0))
    assert balance.currency == "USDT"
    assert balance.wallet == D(10_000) - fees - D("0.051")
    assert balance.unrealized_pnl == D("10")
    assert balance.margin_used is not None and balance.margin_used > 0
    assert [e.path for e in server.log].count("/fapi/v3/account") == 1


async def test_the_tracker_books_binance_funding_to_the_last_decimal(
        tmp_path: Path, venue: PaperExchange, server: BinanceServer,
        gateway: CcxtGateway) -> None:
    store = await Store.open(tmp_path / "state.db")
    settings = TrackerSettings(verify_delay=0.05, funding=FundingSettings(interval=timedelta(0)))
    tracker = SimplePositionTracker(store, {"acc-1": gateway}, settings)
    try:
        await tracker.start(announce=False)
        assert (await tracker.run_cycle("acc-1")).ok
        venue.manual_order(BTC, OrderSide.BUY, D("0.013"))
        assert (await tracker.run_cycle("acc-1")).ok
        venue.set_mark(BTC, D("50123.4"))
        paid = venue.apply_funding(BTC, D("0.00012345"))
        calls = server.total_requests
        assert (await tracker.run_cycle("acc-1")).ok
        assert sum(e.path == "/fapi/v1/income" for e in server.log) == 3  # one per cycle
        assert server.total_requests > calls
        [trade] = tracker.book.active_trades("acc-1")
        events = await store.events_for_trade(trade.id)
        assert [e.kind for e in events] == ["opened", "funding"]
        assert events[1].realized_pnl == paid[0].amount == D("-0.080440538490")
        assert events[1].note == f"funding:{paid[0].id}"
        assert (await tracker.run_cycle("acc-1")).ok  # polled again: nothing new, nothing twice
        assert len(await store.events_for_trade(trade.id)) == 2
    finally:
        await store.close()
