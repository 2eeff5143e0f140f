from datetime import timedelta
from decimal import Decimal

from positionbot.tracker.core.models import Order, OrderSide, OrderStatus, TradeStatus
from positionbot.tracker.core.orphans import OrphanVerdict, orphan_decision
from tests.core.factories import T0, trade

TIMEOUT = timedelta(minutes=60)


def entry(status: OrderStatus) -> Order:
    return Order("e1", "BTC/USDT:USDT", OrderSide.BUY, "limit", status, Decimal("1"), price=Decimal("90"))


def pending(**kw: object) -> object:
    return trade(status=TradeStatus.PENDING, size="0", entry_order_id="e1", **kw)


def decide(order: Order | None, minutes: int = 1, **kw: object):  # type: ignore[no-untyped-def]
    return orphan_decision(pending(**kw), order, T0 + timedelta(minutes=minutes), TIMEOUT)  # type: ignore[arg-type]


def test_no_entry_order() -> None:
    d = orphan_decision(trade(status=TradeStatus.PENDING, size="0"), None, T0, TIMEOUT)
    assert (d.verdict, d.reason) == (OrphanVerdict.CANCEL, "no entry order")


def test_dead_entry_orders_cancel_the_trade_with_their_reason() -> None:
    assert decide(entry(OrderStatus.CANCELED)).reason == "entry order cancelled on the exchange"
    assert decide(entry(OrderStatus.EXPIRED)).reason == "entry order expired on the exchange"
    assert decide(entry(OrderStatus.REJECTED)).reason == "entry order rejected by the exchange"
    assert decide(entry(OrderStatus.CANCELED)).verdict is OrphanVerdict.CANCEL


def test_unknown_entry_order() -> None:
    assert decide(None).reason == "entry order not found on the exchange"


def test_filled_entry_without_position() -> None:
    assert decide(entry(OrderStatus.CLOSED)).verdict is OrphanVerdict.CANCEL


def test_resting_entry_is_kept_until_the_timeout() -> None:
    assert decide(entry(OrderStatus.OPEN), minutes=59).verdict is OrphanVerdict.KEEP
    d = decide(entry(OrderStatus.OPEN), minutes=60)
    assert d.verdict is OrphanVerdict.CANCEL_ORDER and "60 min" in d.reason
