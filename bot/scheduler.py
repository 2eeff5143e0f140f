"""A cycle job per account on PTB's JobQueue (APScheduler), and two loops of our own: the
notifier and a watchdog.

Each cycle job runs with ``max_instances=1`` and ``coalesce``: a slow cycle delays the next one
rather than stacking copies. The watchdog notices a cycle job that stopped completing cycles
(removed, paused, hung past its timeout) and restarts it, pushing a WATCHDOG alert.

APScheduler times its jobs by the wall clock, so a clock stepped back an hour would hold every
job for an hour. The notifier and the watchdog therefore sleep on the monotonic clock, and the
watchdog, seeing the wall clock jump against it, moves every cycle job's next run to now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as dt_time
from typing import Any

from telegram.ext import CallbackContext, Job, JobQueue

from positionbot.bot.notifier import Notifier
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.notices import Watchdog
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.runner import SimplePositionTracker

log = logging.getLogger(__name__)

CLOCK_STEP_S = 5.0  # wall and monotonic clocks disagreeing by more than this is a step
_JOB_KWARGS: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
Context = CallbackContext[Any, Any, Any, Any]


def _now_kwargs() -> dict[str, Any]:
    """First run right away: ``first=0`` would land in the past and wait a whole interval."""
    return {**_JOB_KWARGS, "next_run_time": datetime.now(UTC)}


@dataclass(frozen=True, slots=True)
class Timing:
    interval: float  # seconds between cycles of one account
    cycle_timeout: float
    watchdog_after: float  # no completed cycle for this long means the job is stalled
    notify_interval: float = 1.0
    hung_grace: float = 5.0  # beyond cycle_timeout, how long a cancelled cycle may take to unwind


@dataclass(slots=True)
class _Running:
    task: asyncio.Task[Any]
    started: float


class Scheduler:
    """Owns the jobs; ``start`` after the application started, ``stop`` before it stops."""

    def __init__(
        self, job_queue: JobQueue[Any], tracker: SimplePositionTracker, store: Store,
        notifier: Notifier, timing: Timing,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._queue = job_queue
        self._tracker = tracker
        self._store = store
        self._notifier = notifier
        self.timing = timing
        self.wall_clock = clock  # the time of day; a step in it is noticed
        self._jobs: dict[str, Job[Any]] = {}
        self._running: dict[str, _Running] = {}
        self._progress: dict[str, float] = {}  # account -> monotonic time of last completion
        self._polled: dict[str, float] = {}  # account -> monotonic time of its last real cycle
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._draining = asyncio.Lock()  # the loop and a stream's kick never drain at once
        self._kicks: set[asyncio.Task[None]] = set()
        self._wall_mark: tuple[float, float] | None = None  # (monotonic, wall) at last tick
        self.restarts = 0
        # (local time of day, the job queuing it): the daily P&L report, off when None
        self.daily_report: tuple[dt_time, Callable[[], Coroutine[Any, Any, None]]] | None = None

    def start(self) -> None:
        for account in self._tracker.accounts:
            self._schedule_cycle(account)
        if self.daily_report is not None:  # a time of day in the trader's zone: the wall clock
            self._queue.run_daily(self._daily_report_job, self.daily_report[0],
                                  name="daily_report", job_kwargs=_JOB_KWARGS)
        for follower in self._tracker.streams.values():
            follower.on_change = self.kick_drain
            follower.start()
        self._stopping.clear()
        check = max(min(self.timing.interval, self.timing.watchdog_after / 4), 0.05)
        self._loops = [
            asyncio.create_task(self._every(0.0, self.timing.notify_interval, self._drain),
                                name="notifier"),
            asyncio.create_task(self._every(check, check, self._watchdog), name="watchdog"),
        ]

    async def _daily_report_job(self, _: Context) -> None:
        assert self.daily_report is not None
        try:
            await self.daily_report[1]()
        except Exception:  # tomorrow's report still comes; the failure is logged loudly
            log.exception("the daily report could not be queued")

    async def stop(self) -> None:
        """Remove the cycle jobs and end the loops (a drain in progress finishes first)."""
        for job in self._queue.jobs():
            job.schedule_removal()
        self._jobs.clear()
        self._stopping.set()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []

    async def _every(self, first: float, period: float,
                     step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``step`` every ``period`` seconds of the monotonic clock until ``stop``."""
        delay = first
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
                return
            except TimeoutError:
                pass
            started = time.monotonic()
            try:
                await step()
            except Exception:  # the loop must outlive any one failure
                log.exception("%s failed", getattr(step, "__name__", "scheduled step"))
            delay = max(period - (time.monotonic() - started), 0.0)

    async def stop_streams(self) -> None:
        """Stop following the user-data streams (before the gateways close)."""
        for follower in self._tracker.streams.values():
            await follower.stop()

    def _verified_recently(self, account: str) -> bool:
        """While the account's stream is healthy the poll only verifies it, every
        ``poll_interval`` instead of every ``interval``."""
        follower = self._tracker.streams.get(account)
        every = follower.poll_interval if follower is not None else None
        last = self._tracker.book.last_report(account)
        polled = self._polled.get(account)
        if every is None or last is None or not last.ok or polled is None:
            return False
        return time.monotonic() - polled < every - self.timing.interval / 2

    def cycle_job(self, account: str) -> Job[Any]:
        return self._jobs[account]

    def _schedule_cycle(self, account: str) -> None:
        self._jobs[account] = self._queue.run_repeating(
            self._cycle_job, self.timing.interval, data=account, name=f"cycle:{account}",
            job_kwargs=_now_kwargs(),
        )
        self._progress[account] = time.monotonic()

    async def _cycle_job(self, context: Context) -> None:
        account = str(context.job.data if context.job else "")
        if self._verified_recently(account):
            self._progress[account] = time.monotonic()
            return
        task = asyncio.ensure_future(self._tracker.run_cycle(account))
        self._running[account] = _Running(task, time.monotonic())
        self._polled[account] = time.monotonic()
        try:
            await task  # the runner applies the cycle time limit itself
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            log.error("cycle %s was cancelled by the watchdog", account)
            return
        finally:
            if self._running.get(account) is not None and self._running[account].task is task:
                del self._running[account]
        self._progress[account] = time.monotonic()

    async def _drain(self) -> None:
        async with self._draining:
            try:
                await self._notifier.drain()
            except Exception:  # the outbox keeps everything; the next drain tries again
                log.exception("notifier drain failed")

    def kick_drain(self) -> None:
        """A stream change was just recorded: deliver it now rather than at the next tick."""
        if not self._stopping.is_set():
            task = asyncio.create_task(self._drain(), name="notifier-kick")
            self._kicks.add(task)
            task.add_done_callback(self._kicks.discard)

    def _follow_clock_steps(self, now: float) -> None:
        """A wall clock stepped against the monotonic one leaves APScheduler's next runs in the
        wrong place (an hour back: an hour without cycles): run every cycle job now."""
        wall = self.wall_clock().timestamp()
        mark, self._wall_mark = self._wall_mark, (now, wall)
        if mark is None:
            return
        step = (wall - mark[1]) - (now - mark[0])
        if abs(step) < CLOCK_STEP_S:
            return
        log.warning("the wall clock stepped by %+.0fs; cycle jobs rescheduled to run now", step)
        for job in self._jobs.values():
            if self._queue.scheduler.get_job(job.job.id) is not None:
                job.job.modify(next_run_time=datetime.now(UTC))

    async def _watchdog(self) -> None:
        now = time.monotonic()
        self._follow_clock_steps(now)
        for account in self._tracker.accounts:
            running = self._running.get(account)
            if running is not None and not running.task.done():
                age = now - running.started
                if age > self.timing.cycle_timeout + self.timing.hung_grace:
                    running.task.cancel()
                    await self._restart(account, f"cycle hung for {age:.0f}s; cancelled and "
                                                 "restarted")
                    continue
            # A cycle in progress is no excuse: each tick may meet one just started, and a job
            # whose cycles all time out or die is running one most of the time.
            idle = now - self._progress.get(account, now)
            if idle > self.timing.watchdog_after:
                await self._restart(account, f"no completed cycle for {idle:.0f}s; "
                                             "cycle job restarted")

    async def _restart(self, account: str, detail: str) -> None:
        job = self._jobs.get(account)
        name = job.name if job is not None and job.name else f"cycle:{account}"
        log.error("watchdog: %s — %s", name, detail)
        if job is not None and self._queue.scheduler.get_job(job.job.id) is not None:
            job.schedule_removal()  # (a job that died is gone already: removing it would raise)
        self._running.pop(account, None)
        self._schedule_cycle(account)
        self.restarts += 1
        now = self.wall_clock()
        notice = Watchdog(account=account, dedupe_key=f"watchdog/{account}/{now.isoformat()}",
                          job=name, detail=detail)
        try:
            await self._store.commit(WriteBatch(account, notices=[notice]))
        except Exception:
            log.exception("could not queue the watchdog alert for %s", account)
