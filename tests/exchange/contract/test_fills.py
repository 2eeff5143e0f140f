"""Fills through real ccxt on every exchange: exact sizes, prices and fees (contract size ≠ 1
on OKX), the realized P&L they replay to, hedge legs, paging and fills of one millisecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from positionbot.tracker.core.accounting import replay_fills
from positionbot.tracker.core.models import Fill, OrderSide, Side
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.conftest import GatewayFactory
from tests.exchange.contract.kits import BTC, ETH, Kit

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def _key(fill: Fill) -> tuple[object, ...]:
    return (fill.side, fill.amount, fill.price, fill.fee)


def _since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


async def test_fills_replay_to_the_exact_realized_pnl_and_fees(
        kit: Kit, gateway: CcxtGateway, venue: PaperExchange) -> None:
    since = _since()
    q = kit.qty
    venue.manual_order(BTC, BUY, q("0.010"))
    venue.set_mark(BTC, D("50321.7"))
    venue.manual_order(BTC, BUY, q("0.020"))
    venue.set_mark(BTC, D("51000.3"))
    venue.manual_order(BTC, SELL, q("0.010"), reduce_only=True)
    venue.manual_order(ETH, BUY, q("0.100", ETH))

    fills = await gateway.fetch_fills(BTC, since)

    assert [_key(f) for f in fills] == [_key(f) for f in venue.fills if f.symbol == BTC]
    contract = (await gateway.markets())[BTC].contract_size
    assert fills[1].fee == q("0.020") * contract * D("50321.7") * D("0.0004") \
        == D("0.020") * D("50321.7") * D("0.0004")
    replay = replay_fills(None, D(0), D(0), fills, Side.LONG, q("0.020"), contract)
    assert replay is not None and replay.final_size == q("0.020")
    book = replay.old.plus(replay.new)
    entry = (D("0.010") * 50000 + D("0.020") * D("50321.7")) / D("0.030")
    assert book.realized_gross == (D("51000.3") - entry) * D("0.010") == venue.realized_pnl(BTC)
    assert book.fees == venue.fees_paid(BTC) == (
        D("0.010") * 50000 + D("0.020") * D("50321.7") + D("0.010") * D("51000.3")) * D("0.0004")


async def test_hedge_fills_carry_their_leg(kit: Kit, hedge_gateway: CcxtGateway,
                                           hedge_venue: PaperExchange) -> None:
    since = _since()
    hedge_venue.manual_order(ETH, SELL, kit.qty("0.200", ETH), position_side=Side.SHORT)
    hedge_venue.manual_order(ETH, BUY, kit.qty("0.300", ETH), position_side=Side.LONG)
    hedge_venue.manual_order(ETH, BUY, kit.qty("0.050", ETH), position_side=Side.SHORT)
    await hedge_gateway.fetch_positions()  # the gateway learns the account's mode

    fills = await hedge_gateway.fetch_fills(ETH, since)

    assert [(f.side, f.position_side) for f in fills] == [
        (SELL, Side.SHORT), (BUY, Side.LONG), (BUY, Side.SHORT)]


async def test_fills_of_one_millisecond_keep_their_order(kit: Kit,
                                                         make_gateway: GatewayFactory) -> None:
    """Bybit lists them newest first; its ``seq`` gives the order back."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    venue = kit.venue(clock=lambda: moment)
    for i in range(5):
        venue.manual_order(BTC, BUY if i % 2 == 0 else SELL, kit.qty("0.002") * (i + 1))
    server = kit.server(venue)
    await server.start()
    try:
        fills = await make_gateway(server).fetch_fills(BTC, moment)
    finally:
        await server.stop()

    assert [f.amount for f in fills] == [kit.qty("0.002") * n for n in range(1, 6)]


async def test_more_fills_than_a_page_are_all_read(kit: Kit, gateway: CcxtGateway,
                                                   venue: PaperExchange) -> None:
    since = _since()
    for i in range(230):
        venue.manual_order(ETH, BUY if i % 2 == 0 else SELL, kit.qty("0.010", ETH))

    fills = await gateway.fetch_fills(ETH, since)

    assert len(fills) == 230 and len({f.id for f in fills}) == 230
    assert [f.side for f in fills] == [BUY if i % 2 == 0 else SELL for i in range(230)]


async def test_funding_payments_are_exact_and_signed_as_received(
        kit: Kit, gateway: CcxtGateway, venue: PaperExchange) -> None:
    """Bybit writes a paid funding as a positive ``execFee``; OKX as a negative ``balChg``."""
    since = _since()
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    venue.manual_order(ETH, SELL, kit.qty("0.100", ETH))
    paid = venue.apply_funding(BTC, D("0.0001"))
    received = venue.apply_funding(ETH, D("0.0003"))

    payments = await gateway.fetch_funding(since)

    assert sorted((p.symbol, p.amount) for p in payments) == sorted(
        (row.symbol, row.amount) for row in paid + received)
    assert {p.symbol: p.amount < 0 for p in payments} == {BTC: True, ETH: False}


async def test_balance_is_the_wallet(kit: Kit, gateway: CcxtGateway,
                                     venue: PaperExchange) -> None:
    venue.manual_order(BTC, BUY, kit.qty("0.010"))
    venue.set_mark(BTC, D("50500"))

    balance = await gateway.fetch_balance()

    expected = venue.balance()
    assert (balance.currency, balance.wallet) == ("USDT", expected.wallet)
    assert balance.wallet == venue.initial_wallet - D("0.2")  # less the opening fee
