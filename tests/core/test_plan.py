from dataclasses import replace
from decimal import Decimal
from itertools import count

from positionbot.tracker.core.accounting import replay_fills
from positionbot.tracker.core.classify import Change
from positionbot.tracker.core.ledger import PricedChange, apply_changes
from positionbot.tracker.core.models import (
    ChangeKind,
    NoticeKind,
    OrderSide,
    Side,
    Source,
    TradeStatus,
)
from positionbot.tracker.core.notices import (
    CloseReason,
    PositionDecreased,
    PositionFlipped,
    PositionOpened,
    StopLossHit,
)
from tests.core.factories import T0, fill, pos, trade

D = Decimal
KEY = ("BTC/USDT:USDT", None)


def run(pc: PricedChange):  # type: ignore[no-untyped-def]
    ids = count(100)
    return apply_changes([pc], "acct", lambda: next(ids), T0)


def test_opened_external_trade_at_the_exchange_entry() -> None:
    out = run(PricedChange(Change(ChangeKind.OPENED, KEY, None, pos(size="2", entry="101.5")), None, None))
    (t,) = out.trades
    assert (t.id, t.status, t.source, t.size, t.avg_entry_price) == (
        100, TradeStatus.OPEN, Source.EXTERNAL, D("2"), D("101.5"))
    (ev,) = out.events
    assert (ev.trade_id, ev.seq, ev.kind, ev.size_before, ev.size_after) == (100, 1, "opened", 0, D("2"))
    (n,) = out.notices
    assert n.kind == NoticeKind.OPENED and n.dedupe_key == "acct/trade/100/1"
    assert isinstance(n, PositionOpened) and (n.side, n.size_after) == (Side.LONG, D("2"))


def test_opened_links_the_pending_bot_trade_and_keeps_its_stop() -> None:
    pending = trade(7, status=TradeStatus.PENDING, size="0", avg="0", entry_order_id="e1",
                    stop_loss_price=D("90"))
    pending = replace(pending, source=Source.BOT)
    out = run(PricedChange(Change(ChangeKind.OPENED, KEY, None, pos(size="1")), None, None, pending))
    (t,) = out.trades
    assert (t.id, t.status, t.source, t.stop_loss_price) == (7, TradeStatus.OPEN, Source.BOT, D("90"))
    assert isinstance(n := out.notices[0], PositionOpened) and n.source is Source.BOT


def test_increase_without_fills_uses_the_price_implied_by_the_exchange_entry() -> None:
    t0 = trade(size="1", avg="100")
    out = run(PricedChange(Change(ChangeKind.INCREASED, KEY, t0, pos(size="3", entry="120")), None, None))
    (t,) = out.trades
    assert t.avg_entry_price == D("120") and t.size == D("3")
    assert out.events[0].price == D("130") and not out.events[0].estimated


def test_decrease_from_fills_books_realized_pnl_and_fees() -> None:
    t0 = trade(size="1", avg="100", fees=D("0.04"), realized_pnl=D("-0.04"))
    p = pos(size="0.25")
    rp = replay_fills(Side.LONG, D("1"), D("100"), [fill(OrderSide.SELL, "0.75", "120", fee="0.036")],
                      Side.LONG, D("0.25"), D("1"))
    out = run(PricedChange(Change(ChangeKind.DECREASED, KEY, t0, p), rp, None))
    (t,) = out.trades
    assert t.realized_pnl == D("-0.04") + D("15") - D("0.036")
    assert t.fees == D("0.076") and t.avg_entry_price == D("100") and t.size == D("0.25")
    ev = out.events[0]
    assert (ev.price, ev.realized_pnl, ev.fees, ev.estimated) == (D("120"), D("14.964"), D("0.036"), False)
    assert out.notices[0].kind == NoticeKind.DECREASED


def test_decrease_without_fills_is_an_estimate_at_the_mark() -> None:
    t0 = trade(size="1", avg="100")
    change = Change(ChangeKind.DECREASED, KEY, t0, pos(size="0.5", mark="110"))
    out = run(PricedChange(change, None, D("108")))
    ev = out.events[0]
    assert ev.estimated and ev.price == D("108") and ev.realized_pnl == D("4")
    assert isinstance(n := out.notices[0], PositionDecreased) and n.estimated


def test_close_reasons_and_notice_kinds() -> None:
    t0 = trade(size="1", avg="100", stop_loss_price=D("90"), stop_loss_order_id="s1")
    rp = replay_fills(Side.LONG, D("1"), D("100"), [fill(OrderSide.SELL, "1", "90")], None, D("0"), D("1"))
    hit = run(PricedChange(Change(ChangeKind.CLOSED, KEY, t0, None), rp, None, stop_hit=True))
    (t,) = hit.trades
    assert (t.status, t.close_reason, t.size, t.stop_loss_order_id) == (
        TradeStatus.CLOSED, "stop_loss", 0, None)
    assert isinstance(n := hit.notices[0], StopLossHit) and n.pnl_pct == D("-10.00")
    assert n.reason is CloseReason.STOP_LOSS
    manual = run(PricedChange(Change(ChangeKind.CLOSED, KEY, t0, None), rp, None))
    assert manual.notices[0].kind == NoticeKind.CLOSED and manual.trades[0].close_reason == "closed"
    assert manual.trades[0].stop_loss_order_id == "s1"  # the act step cancels it
    dust = run(PricedChange(Change(ChangeKind.CLOSED, KEY, t0, None), rp, None, dust=True))
    assert dust.trades[0].close_reason == "dust"


def test_close_without_fills_estimates_at_the_last_mark() -> None:
    out = run(PricedChange(Change(ChangeKind.CLOSED, KEY, trade(size="2", avg="100"), None), None, D("95")))
    assert out.events[0].estimated and out.events[0].realized_pnl == D("-10")


def test_flip_closes_the_old_trade_and_opens_a_new_one() -> None:
    t0 = trade(size="1", avg="100")
    p = pos(side=Side.SHORT, size="2", entry="90")
    rp = replay_fills(Side.LONG, D("1"), D("100"), [fill(OrderSide.SELL, "3", "90", fee="0.3")],
                      Side.SHORT, D("2"), D("1"))
    out = run(PricedChange(Change(ChangeKind.FLIPPED, KEY, t0, p), rp, None))
    old, new = out.trades
    assert (old.status, old.close_reason, old.realized_pnl) == (TradeStatus.CLOSED, "flipped", D("-10.1"))
    assert (new.id, new.side, new.size, new.avg_entry_price, new.fees) == (
        100, Side.SHORT, D("2"), D("90"), D("0.2"))
    assert [e.kind for e in out.events] == ["closed", "opened"]
    (n,) = out.notices
    assert isinstance(n, PositionFlipped) and n.new_side is Side.SHORT and n.new_trade_id == 100


def test_event_sequence_numbers_make_dedupe_keys_unique_per_change() -> None:
    t0 = trade(size="1", event_seq=4)
    out = run(PricedChange(Change(ChangeKind.INCREASED, KEY, t0, pos(size="2")), None, None))
    assert out.trades[0].event_seq == 5 and out.events[0].seq == 5
    assert out.notices[0].dedupe_key == "acct/trade/1/5"
