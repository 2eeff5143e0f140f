"""A report dated before the last REST cycle: an exchange clock behind ours must not hold a
fresh change back until the verifying poll, and a truly stale report must change nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.core.stream_events import StreamBatch
from tests.support.stream import ACCOUNT, BTC, D, eventually
from tests.support.venue_streams import KitLive, bybit_live

__all__ = ["bybit_live"]


async def _held_report(live: KitLive, size: str) -> StreamBatch:
    """The stream's report of a manual order, kept from the follower."""
    batches: list[StreamBatch] = []
    original = live.follower.apply

    async def hold(batch: StreamBatch) -> None:
        batches.append(batch)

    live.follower.apply = hold  # type: ignore[method-assign]
    live.venue.manual_order(BTC, OrderSide.BUY, D(size))
    await eventually(lambda: any(b.positions for b in batches))
    live.follower.apply = original  # type: ignore[method-assign]
    positions = tuple(r for b in batches for r in b.positions)
    return StreamBatch(positions=positions, fills=tuple(f for b in batches for f in b.fills))


def _rest_started(live: KitLive) -> object:
    report = live.tracker.book.last_report(ACCOUNT)
    assert report is not None and report.ok
    return report.started_at


async def test_a_change_dated_by_a_clock_behind_ours_is_verified_at_once(
        bybit_live: KitLive) -> None:
    live = bybit_live
    batch = await _held_report(live, "0.010")
    started = live.tracker.book.last_report(ACCOUNT).started_at  # type: ignore[union-attr]
    behind = tuple(replace(r, at=started - timedelta(seconds=2)) for r in batch.positions)
    await live.follower.apply(replace(batch, positions=behind))
    (trade,) = live.trades()  # not left for the verifying poll a minute later
    assert trade.size == D("0.010")
    assert _rest_started(live) != started  # found by a REST cycle, not taken on trust
    assert await live.kinds() == ["opened"]


async def test_a_stale_report_that_agrees_with_the_record_costs_no_rest_cycle(
        bybit_live: KitLive) -> None:
    live = bybit_live
    batch = await _held_report(live, "0.010")
    await live.tracker.run_cycle(ACCOUNT)  # the poll saw the change first
    started = _rest_started(live)
    await live.follower.apply(batch)  # the stream's report arrives late: dated before it
    assert _rest_started(live) == started
    assert await live.kinds() == ["opened"]
