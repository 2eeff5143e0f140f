"""Funding payments are booked once, on the trade that was open when they were paid."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiosqlite

from positionbot.bot.config import AppConfig, TrackerConfig
from positionbot.bot.render.notices import NoticeView, render_notice
from positionbot.bot.wiring import tracker_settings
from positionbot.fakes.botapi_rules import html_visible_text
from positionbot.tracker.core.funding import FUNDING, FundingPayment, book_funding, owner
from positionbot.tracker.core.models import (
    OrderSide,
    PositionMode,
    Side,
    Source,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.notices import PositionClosed, decode
from tests.support.pnl import PnlEnv, make_pnl_env
from tests.support.tracker import BTC

D = Decimal
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)


def trade(trade_id: int, opened: datetime, closed: datetime | None,
          side: Side = Side.LONG) -> Trade:
    return Trade(trade_id, "main", BTC, side, TradeStatus.CLOSED if closed else TradeStatus.OPEN,
                 Source.EXTERNAL, opened_at=opened, closed_at=closed)


def test_a_payment_belongs_to_the_trade_open_at_its_time() -> None:
    first = trade(1, T0 - timedelta(hours=9), T0 - timedelta(hours=1))
    second = trade(2, T0 - timedelta(minutes=30), None)
    pay = FundingPayment("77", BTC, D("-0.5"), T0)
    assert owner(pay, [first, second], GRACE) is second
    early = FundingPayment("78", BTC, D("-0.5"), T0 - timedelta(hours=8))
    assert owner(early, [first, second], GRACE) is first
    # Seen by the tracker a few seconds after the exchange opened it: still its payment.
    late_seen = trade(3, T0 + timedelta(seconds=20), None)
    assert owner(pay, [late_seen], GRACE) is late_seen
    assert owner(pay, [trade(4, T0 + timedelta(hours=2), None)], GRACE) is None
    hedge_short = trade(5, T0 - timedelta(hours=1), None, Side.SHORT)
    short_pay = replace(pay, position_side=Side.SHORT)
    assert owner(short_pay, [second, hedge_short], GRACE) is hedge_short


def test_booking_is_idempotent_by_the_exchange_id() -> None:
    t = trade(1, T0 - timedelta(hours=1), None)
    pays = [FundingPayment("1", BTC, D("-0.25"), T0),
            FundingPayment("2", BTC, D("0.10"), T0 + timedelta(hours=8))]
    first = book_funding(pays[:1], [t], None, GRACE)
    assert [e.kind for e in first.events] == [FUNDING]
    assert first.trades[0].realized_pnl == D("-0.25") and first.trades[0].event_seq == 1
    again = book_funding(pays, first.trades, first.cursor, GRACE)
    assert [e.note for e in again.events] == ["funding:2"]
    assert again.trades[0].realized_pnl == D("-0.15") and again.trades[0].event_seq == 2
    assert book_funding(pays, again.trades, again.cursor, GRACE).events == []
    unmatched = book_funding([FundingPayment("3", "ETH/USDT:USDT", D(1), T0)], [t], None, GRACE)
    assert unmatched.events == [] and [p.id for p in unmatched.unmatched] == ["3"]
    assert unmatched.cursor is not None  # consumed: never fetched again


async def test_the_tracker_books_each_payment_once_across_polls_and_restarts(
        pnl_env: PnlEnv) -> None:
    ex = pnl_env.exchange
    ex.manual_order(BTC, OrderSide.BUY, D("0.004"))
    await pnl_env.cycle()
    ex.apply_funding(BTC, D("0.0001"))
    await pnl_env.cycle()
    await pnl_env.cycle()
    [t] = pnl_env.tracker.book.active_trades("paper")
    events = await pnl_env.store.events_for_trade(t.id)
    assert [e.kind for e in events] == ["opened", "funding"]
    assert events[1].realized_pnl == D("-0.02") and t.realized_pnl == events[0].realized_pnl - D(
        "0.02")
    pnl_env.tracker.funding = type(pnl_env.tracker.funding)(pnl_env.tracker.funding.settings)
    await pnl_env.cycle()  # a fresh poller (as after a restart) reads the stored cursor
    assert len(await pnl_env.store.events_for_trade(t.id)) == 2
    ex.manual_order(BTC, OrderSide.SELL, D("0.004"), reduce_only=True)
    await pnl_env.cycle()
    closed = await pnl_env.store.get_trade(t.id)
    assert closed is not None and closed.status is TradeStatus.CLOSED
    venue_total = sum((r.amount for r in ex.income.rows()), D(0))
    assert closed.realized_pnl == venue_total


def test_the_funding_poll_interval_comes_from_the_config() -> None:
    config = AppConfig.model_construct(tracker=TrackerConfig(funding_poll_minutes=30), accounts=[])
    assert tracker_settings(config).funding.interval == timedelta(minutes=30)
    assert tracker_settings(AppConfig.model_construct(
        tracker=TrackerConfig(), accounts=[])).funding.interval == timedelta(minutes=15)


async def test_in_hedge_mode_each_leg_gets_its_own_payment(tmp_path: Path) -> None:
    env = await make_pnl_env(tmp_path, mode=PositionMode.HEDGE)
    try:
        ex = env.exchange
        ex.manual_order(BTC, OrderSide.BUY, D("0.004"), position_side=Side.LONG)
        ex.manual_order(BTC, OrderSide.SELL, D("0.002"), position_side=Side.SHORT)
        await env.cycle()
        paid = ex.apply_funding(BTC, D("0.0003"))
        await env.cycle()
        by_side = {t.side: t for t in env.tracker.book.active_trades("paper")}
        for row in paid:
            assert row.position_side is not None
            events = await env.store.events_for_trade(by_side[row.position_side].id)
            assert [(e.kind, e.realized_pnl) for e in events if e.kind == "funding"] == [
                ("funding", row.amount)]
        assert {r.position_side: r.amount for r in paid} == {
            Side.LONG: D("-0.06"), Side.SHORT: D("0.03")}
    finally:
        await env.store.close()


async def closed_notice(pnl_env: PnlEnv) -> PositionClosed:
    db = await aiosqlite.connect(pnl_env.store.path)
    try:
        rows = await db.execute_fetchall(
            "SELECT kind, account, dedupe_key, fields FROM notifications WHERE kind = 'closed'")
    finally:
        await db.close()
    [(kind, account, key, fields)] = rows
    notice = decode(kind, account, key, fields)
    assert isinstance(notice, PositionClosed)
    return notice


async def test_the_close_push_says_the_funding_inside_the_trades_pnl(pnl_env: PnlEnv) -> None:
    ex = pnl_env.exchange
    ex.manual_order(BTC, OrderSide.BUY, D("0.004"))
    await pnl_env.cycle()
    ex.apply_funding(BTC, D("0.0001"))
    await pnl_env.cycle()
    ex.manual_order(BTC, OrderSide.SELL, D("0.004"), reduce_only=True)
    await pnl_env.cycle()
    notice = await closed_notice(pnl_env)
    assert notice.funding == D("-0.02")
    text = html_visible_text(render_notice(NoticeView(notice)).text)
    assert "Funding -0.02 USDT (inside the trade P&L)" in text
    assert "(entry fees, earlier closes, funding)" in text
