"""Regression tests for what the crash soak found, each reproduced on purpose.

* A stop the exchange accepted but the database never recorded (the process died, or the
  answer and the look-up by client id were both lost) must not stay behind as a second, stale
  stop once the trade places its own: the next owner of a database whose last owner died, and
  the tracker after a failed placement, reconcile the resting stops.
* A flip seen first by the verification fetch is not confirmed yet; its new position's entry
  must not be booked on the old trade as an "entry mismatch".
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from positionbot.storage.store import Store
from positionbot.tracker.core.models import ChangeKind, Order, Side
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.runner import SimplePositionTracker
from tests.support.tracker import BTC, BUY, ETH, SELL, D, Env

HOLD_OPEN = """
import asyncio, sys
from positionbot.storage.store import Store
async def main():
    await Store.open(sys.argv[1])
    print("open", flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


async def test_the_next_owner_knows_whether_the_last_one_died(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    for _ in range(2):
        store = await Store.open(path)
        assert not store.unclean_shutdown
        await store.close()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_OPEN, str(path), stdout=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"open\n"
    child.kill()
    await child.wait()

    store = await Store.open(path)
    assert store.unclean_shutdown
    await store.close()
    store = await Store.open(path)
    assert not store.unclean_shutdown
    await store.close()


async def test_a_stop_whose_placement_outcome_was_lost_is_not_left_behind(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    trade_id = env.trades()[0].id
    env.exchange.inject("timeout_after_submit", "timeout")  # placed; answer and look-up lost

    result = await TradeCommands(env.tracker).set_stop_loss(trade_id, D("48000"))

    assert not result.placed and env.trades()[0].has_pending_stop
    assert [o.amount for o in env.exchange.open_stop_orders()] == [D("0.010")]  # unrecorded
    env.exchange.manual_order(BTC, BUY, D("0.005"))  # the position grows before the retry
    report = await env.cycle()

    [stop] = env.exchange.open_stop_orders()
    trade = env.trades()[0]
    assert (stop.id, stop.amount) == (trade.stop_loss_order_id, D("0.015"))
    assert any("leftover stop" in line for line in report.actions)
    await env.cycle()
    assert env.exchange.open_stop_orders() == [stop]


async def test_a_flip_seen_only_by_the_verification_fetch_is_no_entry_mismatch(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    env.exchange.manual_order(ETH, BUY, D("0.100"))
    await env.cycle()
    eth = next(t for t in env.trades() if t.symbol == ETH)

    flips: list[Order] = []

    async def flip_eth_while_waiting(seconds: float) -> None:
        if not flips:  # once: between the two fetches of the next cycle
            env.exchange.set_mark(ETH, D("3100"))
            flips.append(env.exchange.manual_order(ETH, SELL, D("0.300")))
        await env.clock.sleep(seconds)

    tracker = SimplePositionTracker(env.store, {"paper": env.gateway}, env.tracker.settings,
                                    env.clock, flip_eth_while_waiting)
    await tracker.start()
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)  # asks for verification
    env.clock.advance(15)

    report = await tracker.run_cycle("paper")

    assert [c.kind for c in report.changes] == [ChangeKind.CLOSED]
    assert tracker.book.mismatches == {}
    assert tracker.book.find_active(eth.id) == eth
    env.clock.advance(15)
    flipped = await tracker.run_cycle("paper")
    assert [c.kind for c in flipped.changes] == [ChangeKind.FLIPPED]
    [short] = tracker.book.active_trades("paper")
    assert short.side is Side.SHORT and short.avg_entry_price == D("3100")
    assert tracker.book.mismatches == {}
