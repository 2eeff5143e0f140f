"""The stream follower: applies an account's user-data stream at once, keeps polling the truth.

A stream event stating a position's size is applied through the runner (``apply_stream``) the
moment it arrives. Nothing the stream fails to say is ever taken as a close: every (re)connect,
gap or failure to apply runs a REST cycle before the stream is trusted again, and the scheduler
keeps a slower verifying poll going (see ``poll_interval``). The health figures are plain
attributes (``connected``, ``last_event_at``, ``reconnects_today``) for ``/status`` and metrics.

A stream that reports stop orders also spares the verifying poll most of its stop listings (one
REST request each on Binance): see ``vouches_for_stops``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import Fill, Order, OrderStatus, PositionMode, TradeStatus
from positionbot.tracker.core.notices import ExchangeRecovered, ExchangeUnreachable, Notice
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.core.stream_events import Deduper, StreamBatch, contradicts
from positionbot.tracker.engine.ports import RecordStore
from positionbot.tracker.engine.stream_port import StreamLost, StreamSource

if TYPE_CHECKING:
    from positionbot.tracker.engine.runner import SimplePositionTracker

log = logging.getLogger(__name__)

_STOP_LEFT = (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)

Sleep = Callable[[float], Awaitable[None]]
ListStops = Callable[[], Awaitable[list[Order]]]


@dataclass(frozen=True, slots=True)
class StreamSettings:
    verify_interval: float = 60.0  # the verifying poll while the stream is healthy
    backoff_initial: float = 0.5  # first reconnect delay, doubled per failed attempt...
    backoff_max: float = 30.0  # ...up to this
    coalesce: float = 0.02  # a burst's later events are gathered for this long
    recent_fills: int = 1_000  # stream fills kept to price changes (cursors skip consumed ones)
    recent_orders: int = 1_000
    # While the stream vouches for them, the open stops are listed on every this many verifying
    # polls (1: on each); a stop order on the stream or a reconnect has them listed next cycle.
    stops_every: int = 2
    # The stream reports stop orders: every stream positionbot builds does (Binance
    # ``ALGO_UPDATE``, Bybit's ``order`` topic, OKX ``orders-algo``). False: only once it has
    # shown it by reporting one.
    stops_on_stream: bool = True


class StreamFollower:
    """Follows one account's stream for the runner; ``start`` it, ``stop`` it."""

    def __init__(
        self, tracker: SimplePositionTracker, source: StreamSource, store: RecordStore,
        settings: StreamSettings | None = None, *, alert_after: float = 45.0,
        clock: Callable[[], datetime] = utc_now, sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = source.account
        self.settings = settings or StreamSettings()
        self.connected = False
        self.last_event_at: datetime | None = None
        self.reconnects_today = 0
        self.applied = 0  # stream reports that changed something
        self.stop_orders_seen = 0  # stop order events reported (any: the stream reports stops)
        self.last_error: str | None = None
        self.on_change: Callable[[], None] | None = None  # told when a report changed something
        self._tracker = tracker
        self._source = source
        self._store = store
        self.alert_after = alert_after  # seconds down before the one alert
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._dedupe = Deduper()
        self._fills: deque[Fill] = deque(maxlen=self.settings.recent_fills)
        self._orders: OrderedDict[str, Order] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._day: date | None = None
        self._sessions = 0
        self._down_since: float | None = monotonic()
        self._down_wall: datetime = clock()
        self._alerted = False
        self._stop_epoch = 0  # moves on each stop order or gap reported and each session
        self._stops_listed: float | None = None  # when the listing the stream vouches for began

    @property
    def poll_interval(self) -> float | None:
        """The verifying poll's interval while the stream is healthy; None: poll normally."""
        return self.settings.verify_interval if self.connected else None

    def vouches_for_stops(self) -> bool:
        """Whether a verifying poll that finds nothing else changed may reuse the last listing
        of the open stops instead of listing them again.

        Yes only while the stream is connected and reports this account's stop orders
        (``stops_on_stream``, or it has reported one), the listing was taken in this session,
        neither a stop order nor a gap was reported since it began (a stop removed by hand is
        one: the cycle it starts lists them), and it is younger than ``stops_every`` verifying
        polls. A removal the stream missed is thus found by REST within ``stops_every`` ×
        ``verify_interval``.
        """
        listed = self._stops_listed
        reports = self.settings.stops_on_stream or self.stop_orders_seen > 0
        if not (self.connected and reports and listed is not None):
            return False
        every = self.settings.stops_every
        return self._monotonic() - listed < (every - 0.5) * self.settings.verify_interval

    async def list_stops(self, fetch: ListStops) -> list[Order]:
        """List the open stops by REST (``fetch``) and remember when, for ``vouches_for_stops``;
        a listing that a stop order or a new session overtook is not remembered."""
        epoch, began = self._stop_epoch, self._monotonic()
        orders = await fetch()
        if epoch == self._stop_epoch:
            self._stops_listed = began
        return orders

    def _stops_changed(self) -> None:
        self._stop_epoch += 1
        self._stops_listed = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"stream:{self.account}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._source.shutdown()
        self.connected = False

    async def run(self) -> None:
        """Connect, verify by REST, follow; on any loss back off (bounded) and start over. The
        back-off grows over failed attempts only: a session that was trusted starts it over."""
        failures = 0
        while True:
            try:
                await self._session()
            except StreamLost as e:
                self.last_error = str(e)
                log.warning("stream %s lost: %s", self.account, e)
            except Exception as e:  # a bug must not end the follower; the poll still runs
                self.last_error = repr(e)
                log.exception("stream %s failed", self.account)
            if self.connected:
                failures = 0
            self.connected = False
            self._stops_changed()
            if self._down_since is None:
                self._down_since = self._monotonic()
                self._down_wall = self._clock()
            with contextlib.suppress(Exception):
                await self._source.close()
            await self._check_down()
            failures += 1  # (the exponent is capped: a day-long outage must not overflow it)
            delay = self.settings.backoff_initial * 2 ** min(failures - 1, 32)
            await self._sleep(min(delay, self.settings.backoff_max))

    async def _session(self) -> None:
        await self._source.open()
        self._stops_changed()  # the stream saw nothing while it was down
        self._count_session()
        report = await self._tracker.run_cycle(self.account)  # before trusting the stream
        if not report.ok:
            raise StreamLost(f"REST cycle after connecting failed: {'; '.join(report.errors)}")
        self.connected = True
        self._down_since = None
        await self._recovered()
        while True:
            batch = await self._source.receive()
            self.last_event_at = self._clock()
            batch = await self._gather(batch)
            await self.apply(batch)

    async def _gather(self, batch: StreamBatch) -> StreamBatch:
        """A burst arrives split over several messages: take what follows within ``coalesce``."""
        if self.settings.coalesce <= 0:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.coalesce
        while (left := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(left):
                    batch = batch.plus(await self._source.receive())
            except TimeoutError:
                break
        return batch

    async def apply(self, batch: StreamBatch) -> None:
        """De-duplicate, remember fills and orders, apply the stated positions; anything the
        report cannot settle is settled by a REST cycle."""
        last = self._tracker.book.last_report(self.account)
        not_before = last.started_at if last is not None and last.ok else None
        fresh, stale = self._dedupe.split(batch, not_before)
        book = self._tracker.book
        mode = PositionMode.HEDGE if book.is_hedge(self.account) else PositionMode.ONE_WAY
        if fresh.gap is None and contradicts(stale, mode, book.positions_by_key(self.account)):
            fresh = replace(fresh, gap="a report dated before the last REST cycle disagrees "
                                       "with it (an exchange clock behind ours, or a late report)")
        if stop_orders := sum(o.is_stop for o in fresh.orders):
            self.stop_orders_seen += stop_orders
            self._stops_changed()
        self._fills.extend(fresh.fills)
        for order in fresh.orders:
            self._orders[order.id] = order
            self._orders.move_to_end(order.id)
            while len(self._orders) > self.settings.recent_orders:
                self._orders.popitem(last=False)
        if fresh.gap is not None:
            log.warning("stream %s: %s; verifying by REST", self.account, fresh.gap)
            await self._verify()
            return
        if not fresh.positions:
            if self._left_by_hand(fresh):  # the cycle says "removed by hand"/"cancelled" now
                report = await self._tracker.run_cycle(self.account)
                if (report.changes or report.actions) and self.on_change is not None:
                    self.on_change()
            return
        try:
            result = await self._tracker.apply_stream(self.account, fresh.positions,
                                                      list(self._fills), self._orders)
        except Exception as e:
            log.warning("stream %s: report not applied (%r); verifying by REST", self.account, e)
            await self._verify()
            return
        if result.needs_cycle is not None:
            log.info("stream %s: %s; verifying by REST", self.account, result.needs_cycle)
            await self._verify()
            return
        if result.changes or result.actions:
            self.applied += 1
            if self.on_change is not None:
                self.on_change()
            log.info("stream %s: %d changes applied (%d REST fill look-ups)", self.account,
                     len(result.changes), result.rest_fill_fetches)

    async def _verify(self) -> None:
        """A REST cycle for what the stream could not settle. It lists the stops afresh: a
        stream that missed or garbled something cannot vouch for the last listing either."""
        self._stops_changed()
        await self._tracker.run_cycle(self.account)

    def _left_by_hand(self, batch: StreamBatch) -> bool:
        """A trade's stop order, or a pending trade's entry order, was cancelled (or expired,
        or rejected) without a position change: the cycle that says so (stop removed by hand,
        pending entry cancelled) runs now instead of at the next verifying poll."""
        stops = {o.id for o in batch.orders if o.is_stop and o.status in _STOP_LEFT}
        entries = {o.id for o in batch.orders if not o.is_stop and o.status in _STOP_LEFT}
        return any(t.stop_loss_order_id in stops or (t.status is TradeStatus.PENDING
                                                     and t.entry_order_id in entries)
                   for t in self._tracker.book.active_by_id(self.account).values())

    def _count_session(self) -> None:
        today = self._clock().date()
        if today != self._day:
            self._day = today
            self.reconnects_today = 0
        if self._sessions > 0:
            self.reconnects_today += 1
        self._sessions += 1

    async def _check_down(self) -> None:
        """One alert when the stream has been down longer than the REST path's alert delay."""
        if self._alerted or self._down_since is None:
            return
        down = self._monotonic() - self._down_since
        if down < self.alert_after:
            return
        now = self._clock()
        notice = ExchangeUnreachable(
            account=self.account, dedupe_key=f"{self.account}/stream-down/{now.isoformat()}",
            failures=0, error=f"user-data stream down for {down:.0f}s "
                              f"({self.last_error or 'unknown'}); polling instead",
            last_success=self.last_event_at)
        await self._notify(notice)
        self._alerted = True

    async def _recovered(self) -> None:
        if not self._alerted:
            return
        now = self._clock()
        notice = ExchangeRecovered(
            account=self.account, dedupe_key=f"{self.account}/stream-up/{now.isoformat()}",
            down_for=timedelta(seconds=int((now - self._down_wall).total_seconds())))
        await self._notify(notice)
        self._alerted = False

    async def _notify(self, notice: Notice) -> None:
        try:
            await self._store.commit(WriteBatch(self.account, notices=[notice]))
        except Exception:
            log.exception("could not queue the stream notice of %s", self.account)
