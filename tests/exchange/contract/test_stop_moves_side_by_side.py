"""Stop moves side by side on every exchange: the four hedge legs of two symbols all grow at
once, their stops are resized concurrently, and each leg ends with exactly one stop, the one
recorded, of its new size (Bybit and OKX read each new stop back; OKX sizes in contracts)."""

from __future__ import annotations

from decimal import Decimal

from positionbot.tracker.core.models import OrderSide, Side, Source, Trade, TradeStatus
from positionbot.tracker.core.stoploss import StopAction, StopActionKind
from positionbot.tracker.engine.stop_actions import execute_stop_actions
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.kits import BTC, ETH, Kit

D = Decimal
LEGS = [(BTC, Side.LONG, D("45000")), (BTC, Side.SHORT, D("55000")),
        (ETH, Side.LONG, D("2700")), (ETH, Side.SHORT, D("3300"))]


def _grow(venue: PaperExchange, symbol: str, side: Side, size: Decimal) -> None:
    order_side = OrderSide.BUY if side is Side.LONG else OrderSide.SELL
    venue.manual_order(symbol, order_side, size, position_side=side)


async def test_hedge_legs_resized_side_by_side_keep_one_stop_each(
        kit: Kit, hedge_gateway: CcxtGateway, hedge_venue: PaperExchange) -> None:
    sizes = {BTC: kit.qty("0.010"), ETH: kit.qty("0.100", ETH)}
    for symbol, side, _ in LEGS:
        _grow(hedge_venue, symbol, side, sizes[symbol])
    await hedge_gateway.fetch_positions()  # the gateway learns the account's mode
    trades = []
    for n, (symbol, side, price) in enumerate(LEGS, start=1):
        old = await hedge_gateway.place_stop_loss(symbol, side, sizes[symbol], price,
                                                  f"pb-{n}-sl-1-{n}", True)
        _grow(hedge_venue, symbol, side, sizes[symbol])  # the leg doubles
        trades.append(Trade(id=n, account="acc-1", symbol=symbol, side=side,
                            status=TradeStatus.OPEN, source=Source.BOT, size=2 * sizes[symbol],
                            avg_entry_price=D(1), stop_loss_price=price,
                            stop_loss_order_id=old.id, stop_loss_size=sizes[symbol],
                            event_seq=1))

    out = await execute_stop_actions(
        hedge_gateway, [StopAction(StopActionKind.REPLACE, t) for t in trades],
        await hedge_gateway.markets(), True, {})

    assert out.errors == []
    live = hedge_venue.open_stop_orders()
    assert len(live) == 4
    by_leg = {(o.symbol, o.position_side): o for o in live}
    for placed in out.trades:
        stop = by_leg[(placed.symbol, placed.side)]
        assert placed.stop_loss_order_id is not None
        assert kit.vid(placed.stop_loss_order_id) == stop.id
        assert stop.amount == placed.stop_loss_size == 2 * sizes[placed.symbol]
