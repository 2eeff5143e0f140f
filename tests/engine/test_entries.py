"""Bot entries become trades; the ones that never fill are cancelled with a reason."""

from datetime import timedelta

import pytest

from positionbot.tracker.core.models import ChangeKind, Side, Source, TradeStatus
from positionbot.tracker.engine.commands import Refusal, TradeCommands
from tests.support.tracker import BTC, BUY, ETH, SELL, D, Env


async def entry(env: Env, side: Side = Side.LONG, amount: str = "0.010", price: str | None = None,
                stop: str | None = None, symbol: str = BTC):  # type: ignore[no-untyped-def]
    preview = await TradeCommands(env.tracker).preview_entry("paper", symbol, side, D(amount),
                                  D(price) if price else None, D(stop) if stop else None,
                                  env.exchange.mark(symbol))
    return await TradeCommands(env.tracker).open_entry(preview)


async def test_market_entry_becomes_a_bot_trade_with_its_stop_placed(env: Env) -> None:
    pending = await entry(env, stop="48000")
    assert pending.status is TradeStatus.PENDING and pending.entry_order_id is not None
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.OPENED]
    (t,) = env.trades()
    assert (t.id, t.source, t.status, t.size) == (pending.id, Source.BOT, TradeStatus.OPEN, D("0.010"))
    (stop,) = env.exchange.open_stop_orders()
    assert stop.amount == D("0.010") and stop.trigger_price == D("48000")
    kinds = await env.kinds()
    assert kinds == ["opened", "stop_loss_placed"]
    assert (await env.notices())[-2][1]["source"] == "bot"


async def test_limit_entry_cancelled_by_hand_is_cancelled_with_its_reason(env: Env) -> None:
    pending = await entry(env, price="45000")
    await env.cycle()
    assert env.trades()[0].status is TradeStatus.PENDING  # still resting: kept
    assert pending.entry_order_id is not None
    env.exchange.manual_cancel(pending.entry_order_id)
    await env.cycle()
    assert env.trades() == []
    kind, fields = (await env.notices())[-1]
    assert kind == "pending_cancelled" and fields["reason"] == "entry order cancelled on the exchange"


async def test_pending_trade_without_entry_order_is_cancelled(env: Env) -> None:
    from positionbot.tracker.core.models import Trade

    t = Trade(env.tracker.new_trade_id(), "paper", BTC, Side.LONG, TradeStatus.PENDING, Source.BOT,
              created_at=env.clock())
    async with env.tracker.account_lock("paper"):
        await env.tracker.commit_trade(t, [])
    await env.cycle()
    assert env.trades() == []
    assert (await env.notices())[-1][1]["reason"] == "no entry order"


async def test_too_old_entry_is_cancelled_on_the_exchange_then_the_trade(env: Env) -> None:
    pending = await entry(env, price="45000")
    env.clock.advance(timedelta(minutes=61).total_seconds())
    await env.cycle()
    assert env.exchange.open_orders() == []
    order = env.exchange.find_order(BTC, order_id=pending.entry_order_id)
    assert order is not None and order.status.value == "canceled"
    assert env.trades() == []
    assert "not filled within 60 min" in (await env.notices())[-1][1]["reason"]


async def test_partial_fill_opens_at_the_filled_size_and_the_stop_follows(env: Env) -> None:
    pending = await entry(env, price="45000", stop="44000")
    assert pending.entry_order_id is not None
    env.exchange.fill_order(pending.entry_order_id, D("0.004"))
    await env.cycle()
    (t,) = env.trades()
    assert (t.status, t.size, t.avg_entry_price, t.source) == (
        TradeStatus.OPEN, D("0.004"), D("45000"), Source.BOT)
    assert env.exchange.open_stop_orders()[0].amount == D("0.004")
    env.exchange.fill_order(pending.entry_order_id)
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.INCREASED]
    assert env.trades()[0].size == D("0.010")
    (stop,) = env.exchange.open_stop_orders()
    assert stop.amount == D("0.010")


async def test_bot_trade_partly_closed_by_hand_stays_consistent(env: Env) -> None:
    await entry(env)
    await env.cycle()
    env.exchange.manual_order(BTC, SELL, D("0.004"), reduce_only=True)
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.DECREASED]
    t = env.trades()[0]
    assert t.source is Source.BOT and t.size == D("0.006")


async def test_close_from_the_bot_is_recorded_by_the_cycle_and_labelled(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))  # a manual position...
    await env.cycle()
    tid = env.trades()[0].id
    await TradeCommands(env.tracker).close_position(tid, D("0.004"), D("0.010"))  # ...partly closed
    await env.cycle()
    assert env.trades()[0].size == D("0.006")
    assert (await env.notices())[-1][1]["by_bot"] is True
    await TradeCommands(env.tracker).close_position(tid, None, D("0.006"))
    await env.cycle()
    assert env.trades() == []
    closed = (await env.store.list_trades("paper"))[0]
    assert closed.close_reason == "bot_close"


async def test_cancel_pending_cancels_the_entry_order_first(env: Env) -> None:
    pending = await entry(env, price="45000")
    await TradeCommands(env.tracker).cancel_pending(pending.id)
    assert env.exchange.open_orders() == [] and env.trades() == []
    assert (await env.notices())[-1][1]["reason"] == "cancelled from the chat"


async def test_manual_fill_while_a_bot_entry_is_pending_on_the_same_symbol(env: Env) -> None:
    await entry(env, price="45000")
    env.exchange.manual_order(BTC, BUY, D("0.010"))  # the trader buys by hand meanwhile
    await env.cycle()
    trades = env.trades()
    # The position is the bot's pending entry's side and symbol: it is linked to it rather than
    # creating a second record for one exchange position.
    assert [(t.status, t.source) for t in trades] == [(TradeStatus.OPEN, Source.BOT)]


@pytest.mark.parametrize(("amount", "price", "stop", "message"), [
    ("0.0101", None, None, "multiple of"),
    ("0.001", None, None, "below the minimum"),
    ("-1", None, None, "positive"),
    ("0.010", "45000.05", None, "multiple of 0.1"),
    ("0.010", None, "51000", "below the entry"),
])
async def test_bad_entries_are_refused_before_anything_is_sent(
    env: Env, amount: str, price: str | None, stop: str | None, message: str) -> None:
    calls = env.gateway.calls
    with pytest.raises(Refusal, match=message):
        await entry(env, amount=amount, price=price, stop=stop)
    assert env.gateway.calls == calls and env.trades() == []


async def test_unknown_symbol_is_refused(env: Env) -> None:
    with pytest.raises(Refusal, match="unknown symbol"):
        await TradeCommands(env.tracker).preview_entry("paper", "NOPE/USDT:USDT", Side.LONG, D("1"),
                                                       None, None, None)


async def test_rejected_entry_cancels_its_pending_trade(env: Env) -> None:
    env.exchange.set_order_rejection("-2019 margin is insufficient", count=1)
    with pytest.raises(Refusal, match="refused"):
        await entry(env, symbol=ETH, amount="0.010")
    assert env.trades() == []
    assert "rejected" in (await env.notices())[-1][1]["reason"]
