"""A stop whose price is already crossed is pushed as waiting for the price, not as a failure:
the stored notice carries who found it crossed (the mark, or the exchange's refusal), and the
push says so, over the real tracker, paper venue and SQLite outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from positionbot.bot.delivery_plan import message_units
from positionbot.bot.render.notices import NoticeView, render_notice
from positionbot.fakes.botapi_rules import html_visible_text
from positionbot.tracker.core.notices import StopLossFailed, decode
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.exchange.paper import default_markets
from tests.support.tracker import BTC, BUY, D, Env

MARKETS = {m.symbol: m for m in default_markets()}


async def _failed(env: Env) -> list[StopLossFailed]:
    rows = await env.store.pending_notifications(env.clock() + timedelta(days=1), limit=1000)
    found = [decode(r.kind, r.account, r.dedupe_key, r.fields) for r in rows
             if r.kind == "stop_loss_failed"]
    return [n for n in found if isinstance(n, StopLossFailed)]


def _shown(notice: StopLossFailed) -> str:
    return html_visible_text(render_notice(NoticeView(notice, MARKETS[BTC])).text)


async def test_a_stop_the_mark_has_crossed_is_pushed_as_waiting_not_failed(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    [trade] = env.trades()
    env.exchange.set_mark(BTC, D("47000"))
    await env.tracker.commit_trade(replace(trade, stop_loss_price=D("48000")), [])

    await env.cycle()  # the bot's own check finds the stop already crossed

    [notice] = await _failed(env)
    assert notice.crossed_by == "mark 47000" and not notice.unconfirmed
    assert notice.error.startswith("stop 48000 is already crossed (mark 47000)")
    title, *body = _shown(notice).splitlines()
    assert title.startswith("⚠️ Stop loss not placed: price already crossed · BTC/USDT:USDT")
    assert "Mark 47000.0" in body
    assert "Your position is unprotected until the price is back on the right side; the stop " \
           "is placed then, or change it with /sl." in body
    assert not any("fail" in line.lower() or "retries" in line for line in body)
    assert len(message_units(["opened", "stop_loss_failed", "opened"], digest=True)) == 3

    env.exchange.set_mark(BTC, D("50000"))
    await env.cycle()
    assert [o.trigger_price for o in env.exchange.open_stop_orders()] == [D("48000")]
    assert len(await _failed(env)) == 1


async def test_a_stop_the_exchange_refuses_as_crossed_says_the_exchanges_words(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    [trade] = env.trades()
    env.exchange.set_mark(BTC, D("47000"))  # past the stop since the bot last looked

    result = await TradeCommands(env.tracker).set_stop_loss(trade.id, D("48000"))

    assert result.message == (
        "stop 48000 not placed: the price is already past it (-2021 Order would immediately "
        "trigger); the position is unprotected until the price is back on the right side; the "
        "stop is placed then, or change it with /sl")
    [notice] = await _failed(env)
    assert notice.crossed_by == "-2021 Order would immediately trigger"
    title, *body = _shown(notice).splitlines()
    assert title.startswith("⚠️ Stop loss not placed: price already crossed · BTC/USDT:USDT")
    assert "Exchange: -2021 Order would immediately trigger" in body
    assert not any(line.startswith("Error:") or "retries" in line for line in body)
