"""Fills folded into one change between two looks still tell the trader the P&L they booked.

Between two syncs (one polling interval, or while the bot was down) a trader can add and take
partial profit, or open and close and open again. The net change is then "increased" or
"opened", but the fills closed something and its exact P&L was booked: the push must say it.
Real tracker, paper venue and SQLite file; the push is rendered from the stored outbox row.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from positionbot.bot.render.format import fmt_money
from positionbot.bot.render.notices import NoticeView, render_notice
from positionbot.tracker.core.models import ChangeKind, Fill, Side
from positionbot.tracker.core.notices import decode, encode
from positionbot.tracker.exchange.paper import default_markets
from tests.support.notices import FLIPPED
from tests.support.tracker import BTC, BUY, SELL, D, Env

MARKET = {m.symbol: m for m in default_markets()}[BTC]
PNL = "P&amp;L"


async def _last_push(env: Env, kind: str) -> str:
    """The newest stored push of this kind, rendered as the trader gets it."""
    rows = await env.store.pending_notifications(env.clock() + timedelta(days=1), limit=10_000)
    row = [r for r in rows if r.kind == kind][-1]
    notice = decode(row.kind, row.account, row.dedupe_key, row.fields)
    return render_notice(NoticeView(notice, MARKET, row.id)).text


def _close_pnl(entry: Decimal, exit_fill: Fill, qty: Decimal) -> Decimal:
    """A long's gross P&L on ``qty`` of ``exit_fill``, less that fill's fee."""
    return (exit_fill.price - entry) * qty - exit_fill.fee


async def test_add_and_partial_take_profit_between_two_looks_tells_the_pnl(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    before = len(env.exchange.fills)
    env.exchange.set_mark(BTC, D("50100"))
    env.exchange.manual_order(BTC, BUY, D("0.030"))
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.015"), reduce_only=True)
    report = await env.cycle()  # one look sees only the net: 0.010 -> 0.025
    assert [c.kind for c in report.changes] == [ChangeKind.INCREASED]
    add, take = env.exchange.fills[before:]
    entry = (D("50000") * D("0.010") + add.price * add.amount) / D("0.040")
    assert entry == D("50075")
    booked = _close_pnl(entry, take, D("0.015")) - add.fee  # both fills' fees are this change's
    assert report.changes[0].realized_pnl == booked == D("12.9678")
    (trade,) = env.trades()
    text = await _last_push(env, "increased")
    assert "Size 0.010 → 0.025 @ 50100.0" in text and "Also closed 0.015 @ 51000.0" in text
    assert f"{PNL} <b>{fmt_money(booked, 'USDT')}</b>" in text
    assert f"{PNL} <b>+12.97 USDT</b>" in text
    assert f"fees {fmt_money(add.fee + take.fee, 'USDT', signed=False)}" in text
    assert f"Trade {PNL} {fmt_money(trade.realized_pnl, 'USDT')}" in text
    assert trade.realized_pnl == booked - env.exchange.fills[0].fee


async def test_round_trip_before_an_open_between_two_looks_tells_its_pnl(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    env.exchange.manual_order(BTC, BUY, D("0.020"))
    report = await env.cycle()  # flat before, long 0.020 now: an open that booked a round trip
    assert [c.kind for c in report.changes] == [ChangeKind.OPENED]
    first, out, again = env.exchange.fills
    booked = _close_pnl(first.price, out, D("0.010")) - first.fee - again.fee
    assert booked == D("10") - D("0.2") - D("0.204") - D("0.408")
    text = await _last_push(env, "opened")
    assert "Size 0.020 @ 51000.0" in text  # what is open now, not the round trip's buy too
    assert "Also closed 0.010 @ 51000.0" in text
    assert f"{PNL} <b>{fmt_money(booked, 'USDT')}</b>" in text
    assert f"fees {fmt_money(first.fee + out.fee + again.fee, 'USDT', signed=False)}" in text
    (trade,) = env.trades()
    assert trade.realized_pnl == booked and trade.side is Side.LONG


async def test_a_flip_tells_what_the_new_trade_booked_before_the_look(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.030"))  # long 0.010 -> short 0.020
    env.exchange.set_mark(BTC, D("50500"))
    env.exchange.manual_order(BTC, BUY, D("0.005"), reduce_only=True)  # cover part of the short
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.FLIPPED]
    _, flip, cover = env.exchange.fills
    opening_fee = flip.fee * 2 / 3  # the flip fill's 0.020 of 0.030 opened the short
    booked = (flip.price - cover.price) * D("0.005") - cover.fee - opening_fee
    assert booked == D("2.5") - D("0.101") - D("0.408")
    (short,) = env.trades()
    assert short.side is Side.SHORT and short.realized_pnl == booked
    text = await _last_push(env, "flipped")
    assert "SHORT 0.015 @ 51000.0" in text
    assert f"New trade {PNL} <b>{fmt_money(booked, 'USDT')}</b>" in text
    assert f"fees {fmt_money(cover.fee + opening_fee, 'USDT', signed=False)}" in text


async def test_a_decrease_whose_fills_include_an_add_counts_both_fills(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    before = len(env.exchange.fills)
    env.exchange.set_mark(BTC, D("50100"))
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.015"), reduce_only=True)
    report = await env.cycle()  # one look sees only the net: 0.010 -> 0.005
    assert [c.kind for c in report.changes] == [ChangeKind.DECREASED]
    add, take = env.exchange.fills[before:]
    booked = _close_pnl(D("50050"), take, D("0.015")) - add.fee
    assert report.changes[0].realized_pnl == booked
    (trade,) = env.trades()
    text = await _last_push(env, "decreased")
    assert "Size 0.010 → 0.005 @ 51000.0" in text and "Entry 50050.0" in text
    assert f"{PNL} <b>{fmt_money(booked, 'USDT')}</b>" in text
    assert f"fees {fmt_money(add.fee + take.fee, 'USDT', signed=False)}" in text
    assert f"Trade {PNL} {fmt_money(trade.realized_pnl, 'USDT')}" in text


async def test_a_plain_add_says_its_fees_and_no_pnl_it_did_not_book(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.manual_order(BTC, BUY, D("0.030"))
    await env.cycle()
    first, add = env.exchange.fills
    text = await _last_push(env, "increased")
    assert f"Fees {fmt_money(add.fee, 'USDT', signed=False)}" in text
    assert f"trade {PNL} {fmt_money(-first.fee - add.fee, 'USDT')}" in text
    assert "<b>" not in text.split("\n", 1)[1] and "Also closed" not in text


def test_a_flip_stored_before_the_new_fields_still_renders() -> None:
    kind, fields = encode(FLIPPED)
    older = json.loads(fields)
    del older["new_realized_pnl"], older["new_fees"]
    notice = decode(kind, FLIPPED.account, FLIPPED.dedupe_key, json.dumps(older))
    text = render_notice(NoticeView(notice, MARKET, 1)).text
    assert "New trade" not in text and f"{PNL} <b>" in text
