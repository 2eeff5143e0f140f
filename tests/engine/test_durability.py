"""Crash before and after the commit: the next cycle neither loses nor repeats a change."""

from pathlib import Path

import pytest

from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.records import WriteBatch
from tests.support.tracker import BTC, BUY, CHAT, SELL, D, Env, make_tracker


class CrashingStore(Store):
    """A real store whose next commit dies before writing, like a process killed mid-cycle."""

    crash_next = False

    async def commit(self, batch: WriteBatch) -> None:
        if self.crash_next:
            self.crash_next = False
            raise SystemExit("killed before commit")
        await super().commit(batch)


async def test_crash_before_commit_the_change_is_seen_again_once(env: Env, tmp_path: Path) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.store.close()
    store = await CrashingStore.open(env.path, clock=env.clock, recipients=fixed_recipients([CHAT]))
    tracker = make_tracker(store, env.gateway, env.clock)
    await tracker.start()
    store.crash_next = True
    env.clock.advance(15)
    with pytest.raises(SystemExit):
        await tracker.run_cycle("paper")
    await store.close()
    env.store = await Store.open(env.path, clock=env.clock, recipients=fixed_recipients([CHAT]))
    env.tracker = make_tracker(env.store, env.gateway, env.clock)
    await env.tracker.start()
    await env.cycle()
    await env.cycle()
    assert len(env.trades()) == 1
    assert await env.kinds() == ["opened"]


async def test_restart_after_commit_neither_loses_nor_repeats(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    await env.reopen()
    assert [t.size for t in env.trades()] == [D("0.010")]
    await env.cycle()
    env.exchange.manual_order(BTC, SELL, D("0.004"), reduce_only=True)
    await env.reopen()
    await env.cycle()
    await env.reopen()
    await env.cycle()
    assert await env.kinds() == ["opened", "decreased"]
    events = await env.store.events_for_trade(env.trades()[0].id)
    assert [e.kind for e in events] == ["opened", "decreased"]


async def test_fills_are_not_counted_twice_across_restarts(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.005"), reduce_only=True)
    await env.cycle()
    await env.reopen()
    env.exchange.manual_order(BTC, SELL, D("0.005"), reduce_only=True)
    await env.cycle()
    closed = (await env.store.list_trades("paper"))[0]
    assert closed.realized_pnl == env.exchange.realized_pnl() - env.exchange.fees_paid()
