"""A missing report is never a flat position; failures alert once and recover once."""

import asyncio

from positionbot.tracker.core.models import ChangeKind
from tests.support.tracker import BTC, BUY, SELL, D, Env


async def test_transient_empty_position_list_closes_nothing(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.inject("empty_positions")
    report = await env.cycle()
    assert report.verified and report.changes == ()
    assert len(env.trades()) == 1
    assert await env.kinds() == ["opened"]


async def test_close_seen_in_both_fetches_is_applied(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    report = await env.cycle()
    assert report.verified and [c.kind for c in report.changes] == [ChangeKind.CLOSED]


async def test_failed_fetch_changes_nothing(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    env.exchange.inject("unavailable")
    env.clock.advance(15)
    report = await env.tracker.run_cycle("paper")
    assert not report.ok and report.changes == () and len(env.trades()) == 1
    assert env.tracker.book.sync_state("paper").consecutive_failures == 1


async def test_verification_fetch_failing_changes_nothing(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.inject("empty_positions", "timeout")
    env.clock.advance(15)
    report = await env.tracker.run_cycle("paper")
    assert not report.ok and len(env.trades()) == 1


async def test_unreachable_alert_once_after_three_failures_then_one_recovery(env: Env) -> None:
    env.exchange.inject(*["unavailable"] * 5)
    for _ in range(5):
        env.clock.advance(15)
        assert not (await env.tracker.run_cycle("paper")).ok
    assert await env.kinds() == ["exchange_unreachable"]
    state = env.tracker.book.sync_state("paper")
    assert state.consecutive_failures == 5 and state.alerted
    await env.cycle()
    await env.cycle()
    assert await env.kinds() == ["exchange_unreachable", "exchange_recovered"]


async def test_auth_error_is_reported_and_changes_nothing(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    env.exchange.inject("auth")
    env.clock.advance(15)
    report = await env.tracker.run_cycle("paper")
    assert not report.ok and env.trades() == []
    assert env.tracker.book.sync_state("paper").last_error == report.errors[0]


async def test_concurrent_cycles_wait_for_each_other_instead_of_racing(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    reports = await asyncio.gather(*(env.tracker.run_cycle("paper") for _ in range(5)))
    assert all(r.ok for r in reports)
    assert sum(len(r.changes) for r in reports) == 1
    assert len(env.trades()) == 1 and await env.kinds() == ["opened"]


async def test_an_internal_error_is_reported_not_raised(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.store.close()  # the database goes away under the tracker
    env.clock.advance(15)
    report = await env.tracker.run_cycle("paper")
    assert not report.ok and "internal error" in report.errors[0]
    assert env.trades() == []  # the cache only follows what was committed
    env.store = await type(env.store).open(env.path, clock=env.clock)
