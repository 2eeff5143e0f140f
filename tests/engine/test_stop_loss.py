"""Stop losses on the exchange: placed, resized, hit, cancelled, removed by hand, refused."""

import pytest

from positionbot.tracker.core.models import ChangeKind, OrderSide, TradeStatus
from positionbot.tracker.engine.commands import TradeCommands
from tests.support.tracker import BTC, BUY, SELL, D, Env


async def open_long(env: Env, size: str = "0.010") -> int:
    env.exchange.manual_order(BTC, BUY, D(size))
    await env.cycle()
    (t,) = env.trades()
    return t.id


async def test_set_stop_loss_places_a_reduce_only_stop_for_the_full_size(env: Env) -> None:
    tid = await open_long(env)
    result = await TradeCommands(env.tracker).set_stop_loss(tid, D("48000.07"))
    assert result.placed
    (stop,) = env.exchange.open_stop_orders()
    assert (stop.side, stop.amount, stop.trigger_price, stop.reduce_only) == (
        OrderSide.SELL, D("0.010"), D("48000.0"), True)  # rounded to the tick, away from the mark
    assert stop.client_order_id is not None and stop.client_order_id.startswith("pb-")
    assert env.exchange.open_orders() == []  # stops live apart, as in Binance's algo service
    assert (await env.kinds())[-1] == "stop_loss_placed"
    report = await env.cycle()
    assert report.changes == () and report.actions == ()


async def test_stop_is_resized_when_the_position_changes(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    env.exchange.manual_order(BTC, BUY, D("0.005"))
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.INCREASED]
    (stop,) = env.exchange.open_stop_orders()
    assert stop.amount == D("0.015") and stop.trigger_price == D("48000")
    assert env.trades()[0].stop_loss_order_id == stop.id


async def test_stop_hit_is_reported_with_the_fill_price(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    env.exchange.set_mark(BTC, D("47990"))  # the stop fires and fills at the mark
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.CLOSED]
    assert report.changes[0].price == D("47990")
    closed = (await env.store.list_trades("paper"))[0]
    assert closed.close_reason == "stop_loss" and closed.stop_loss_order_id is None
    assert closed.stop_loss_price is None  # the pending price is cleared after the close
    kind, fields = (await env.notices())[-1]
    assert kind == "stop_loss_hit" and fields["price"] == "47990"
    assert closed.realized_pnl == env.exchange.realized_pnl() - env.exchange.fees_paid()


async def test_manual_close_cancels_the_leftover_stop(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.CLOSED]
    assert env.exchange.open_stop_orders() == []
    assert any("cancelled" in line for line in report.actions)
    kinds = await env.kinds()
    assert kinds[-2:] == ["closed", "stop_loss_cleared"]
    closed = (await env.store.list_trades("paper"))[0]
    assert (closed.close_reason, closed.stop_loss_order_id) == ("closed", None)


async def test_stop_removed_by_hand_is_cleared_and_reported(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    (stop,) = env.exchange.open_stop_orders()
    env.exchange.manual_cancel(stop.id)
    await env.cycle()
    (t,) = env.trades()
    assert t.stop_loss_order_id is None and t.stop_loss_price is None
    assert (await env.kinds())[-1] == "stop_loss_removed"
    await env.cycle()
    assert (await env.kinds()).count("stop_loss_removed") == 1


async def test_stop_on_the_wrong_side_of_the_mark_is_refused(env: Env) -> None:
    tid = await open_long(env)
    with pytest.raises(ValueError, match="below the mark"):
        await TradeCommands(env.tracker).set_stop_loss(tid, D("50001"))
    assert env.exchange.open_stop_orders() == []
    assert env.trades()[0].stop_loss_price is None


async def test_pending_stop_crossed_later_is_warned_once_and_placed_when_possible(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    (stop,) = env.exchange.open_stop_orders()
    env.exchange.manual_cancel(stop.id)
    await env.cycle()  # removed by hand: cleared
    # A stored stop whose price the mark has since crossed is not placed; one warning.
    t = env.trades()[0]
    from dataclasses import replace

    await env.tracker.commit_trade(replace(t, stop_loss_price=D("49000")), [])
    env.exchange.set_mark(BTC, D("48500"))
    await env.cycle()
    env.exchange.set_mark(BTC, D("48400"))  # the mark moving on does not repeat the warning
    await env.cycle()
    assert env.exchange.open_stop_orders() == []
    assert (await env.kinds()).count("stop_loss_failed") == 1
    env.exchange.set_mark(BTC, D("50000"))
    await env.cycle()
    assert len(env.exchange.open_stop_orders()) == 1
    assert (await env.kinds())[-1] == "stop_loss_placed"


async def test_rejected_stop_is_pushed_once_and_retried(env: Env) -> None:
    tid = await open_long(env)
    env.exchange.set_order_rejection("-2010 insufficient margin", count=3)
    result = await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    assert not result.placed and "refused" in result.message
    assert env.trades()[0].has_pending_stop
    await env.cycle()
    await env.cycle()
    assert env.exchange.open_stop_orders() == []
    await env.cycle()  # rejections used up: placed now
    assert len(env.exchange.open_stop_orders()) == 1
    kinds = await env.kinds()
    assert kinds.count("stop_loss_failed") == 1 and kinds[-1] == "stop_loss_placed"


async def test_timeout_after_the_exchange_accepted_never_leaves_two_stops(env: Env) -> None:
    tid = await open_long(env)
    env.exchange.inject("timeout_after_submit")
    result = await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    assert result.placed
    assert len(env.exchange.open_stop_orders()) == 1
    await env.cycle()
    assert len(env.exchange.open_stop_orders()) == 1


async def test_clearing_cancels_the_stop(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    result = await TradeCommands(env.tracker).set_stop_loss(tid, None)
    assert result.message == "stop loss cleared"
    assert env.exchange.open_stop_orders() == []
    assert env.trades()[0].stop_loss_price is None
    assert (await env.kinds())[-1] == "stop_loss_cleared"


async def test_flip_cancels_the_old_sides_stop(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    env.exchange.manual_order(BTC, SELL, D("0.020"))
    await env.cycle()
    assert env.exchange.open_stop_orders() == []
    assert [t.status for t in env.trades()] == [TradeStatus.OPEN]


async def test_refused_change_keeps_the_live_stop(env: Env) -> None:
    tid = await open_long(env)
    await TradeCommands(env.tracker).set_stop_loss(tid, D("48000"))
    env.exchange.set_order_rejection("-2010 rejected", count=2)
    result = await TradeCommands(env.tracker).set_stop_loss(tid, D("49000"))
    assert not result.placed and "previous one stays" in result.message
    (stop,) = env.exchange.open_stop_orders()
    assert stop.trigger_price == D("48000") and env.trades()[0].stop_loss_order_id == stop.id
    await env.cycle()
    assert len(env.exchange.open_stop_orders()) == 1
