"""``/metrics`` (Prometheus text format) and ``/healthz`` (200 or 503 with a JSON verdict).

Off unless ``[metrics] listen`` is set. Cycle counts, durations and error kinds are recorded
as each cycle ends (the tracker's observers); everything else — exchange requests, open
trades, the outbox, pushes by kind, stream state — is read from the running parts at scrape
time, so nothing here grows with the number of cycles.

Streams: an account's user-data stream follower (``tracker.streams``) is read through its
``connected``, ``last_event_at`` and ``reconnects_today``. An account without one (polled only)
has ``positionbot_stream_followed`` 0 and its other stream gauges report 0.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from positionbot.bot.config import parse_listen
from positionbot.bot.notifier import Notifier
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.runner import SimplePositionTracker

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
@dataclass(frozen=True, slots=True)
class OutboxState:
    backlog: int = 0
    oldest_age_s: float = 0.0
    error: str | None = None  # the store could not be read


class BotMetrics:
    """The metrics registry and the health verdict of one running bot."""

    def __init__(
        self, tracker: SimplePositionTracker, store: Store, *, watchdog_after: float,
        notifier: Notifier | None = None, outbox_max_age: float = 900.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tracker = tracker
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self.watchdog_after = watchdog_after
        self.outbox_max_age = outbox_max_age
        self.outbox = OutboxState()
        started = time.monotonic()
        self._last_success = dict.fromkeys(tracker.accounts, started)  # start counts as fresh
        self._last_cycle_ok: dict[str, bool | None] = dict.fromkeys(tracker.accounts)
        self.registry = CollectorRegistry(auto_describe=True)
        self._cycles = Counter("positionbot_cycles", "Completed cycles by account and result",
                               ["account", "result"], registry=self.registry)
        self._duration = Histogram("positionbot_cycle_duration_seconds", "Cycle duration",
                                   ["account"], buckets=DURATION_BUCKETS, registry=self.registry)
        self._errors = Counter("positionbot_exchange_errors", "Failed cycles by error kind",
                               ["account", "kind"], registry=self.registry)
        for account in tracker.accounts:  # every series exists from the first scrape
            for result in ("ok", "failed"):
                self._cycles.labels(account, result)
            self._duration.labels(account)
        self.registry.register(_StateCollector(self))
        tracker.observers.append(self.observe)

    def observe(self, report: CycleReport) -> None:
        account = report.account
        self._cycles.labels(account, "ok" if report.ok else "failed").inc()
        self._duration.labels(account).observe(report.duration_s)
        self._last_cycle_ok[account] = report.ok
        if report.ok:
            self._last_success[account] = time.monotonic()
        else:
            self._errors.labels(account, report.error_kind or "unknown").inc()

    async def refresh(self) -> None:
        """Read the outbox's backlog and oldest undelivered row (once per scrape)."""
        backlog, oldest = await self._store.outbox_pending_summary()
        age = (self._clock() - oldest).total_seconds() if oldest is not None else 0.0
        self.outbox = OutboxState(backlog, max(age, 0.0))

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when every account had a successful cycle within the watchdog bound and the
        oldest undelivered push is younger than ``outbox_max_age``."""
        now = time.monotonic()
        accounts: dict[str, Any] = {}
        for account, at in self._last_success.items():
            age = now - at
            accounts[account] = {"last_success_age_s": round(age, 3), "ok": age <= self.watchdog_after,
                                 "last_cycle_ok": self._last_cycle_ok.get(account)}
        outbox_ok = self.outbox.error is None and self.outbox.oldest_age_s <= self.outbox_max_age
        healthy = outbox_ok and all(a["ok"] for a in accounts.values())
        return healthy, {
            "status": "ok" if healthy else "failing",
            "watchdog_bound_s": self.watchdog_after,
            "accounts": accounts,
            "outbox": {"backlog": self.outbox.backlog, "oldest_age_s": round(self.outbox.oldest_age_s, 3),
                       "bound_s": self.outbox_max_age, "ok": outbox_ok, "error": self.outbox.error},
            "streams": {account: self._stream(account) for account in self._tracker.accounts},
        }

    def _stream(self, account: str) -> dict[str, Any]:
        follower = self._tracker.streams.get(account)
        if follower is None:
            return {"followed": False, "connected": False, "last_event_age_s": None, "reconnects_today": 0}
        last = follower.last_event_at
        age = None if last is None else round((self._clock() - last).total_seconds(), 3)
        return {"followed": True, "connected": follower.connected, "last_event_age_s": age,
                "reconnects_today": follower.reconnects_today}

    def _gauges(self) -> Iterator[Metric]:
        tracker, now = self._tracker, time.monotonic()
        requests = CounterMetricFamily("positionbot_exchange_requests", "Exchange requests made",
                                       labels=["account"])
        open_trades = GaugeMetricFamily("positionbot_open_trades", "Open trades", labels=["account"])
        success_age = GaugeMetricFamily("positionbot_last_success_age_seconds",
                                        "Seconds since the account's last successful cycle",
                                        labels=["account"])
        followed = GaugeMetricFamily("positionbot_stream_followed",
                                     "1 if a user-data stream follower exists for the account",
                                     labels=["account"])
        connected = GaugeMetricFamily("positionbot_stream_connected", "1 if the stream is connected",
                                      labels=["account"])
        event_age = GaugeMetricFamily("positionbot_stream_last_event_age_seconds",
                                      "Seconds since the stream's last event (0 without a stream)",
                                      labels=["account"])
        reconnects = GaugeMetricFamily("positionbot_stream_reconnects_today",
                                       "Stream reconnects since midnight UTC", labels=["account"])
        for account in tracker.accounts:
            requests.add_metric([account], tracker.gateway(account).calls)
            open_trades.add_metric([account], sum(t.is_open for t in tracker.book.active_trades(account)))
            success_age.add_metric([account], now - self._last_success.get(account, now))
            stream = self._stream(account)
            followed.add_metric([account], float(stream["followed"]))
            connected.add_metric([account], float(stream["connected"]))
            event_age.add_metric([account], stream["last_event_age_s"] or 0.0)
            reconnects.add_metric([account], stream["reconnects_today"])
        yield from (requests, open_trades, success_age, followed, connected, event_age, reconnects)
        yield GaugeMetricFamily("positionbot_outbox_backlog", "Pushes waiting in the outbox",
                                value=self.outbox.backlog)
        yield GaugeMetricFamily("positionbot_outbox_oldest_age_seconds",
                                "Age of the oldest undelivered push", value=self.outbox.oldest_age_s)
        pushes = CounterMetricFamily("positionbot_pushes", "Outbox rows by kind and outcome",
                                     labels=["kind", "outcome"])
        for (kind, outcome), count in sorted((self._notifier.outcomes if self._notifier else {}).items()):
            pushes.add_metric([kind, outcome], count)
        yield pushes
        healthy, _ = self.health()
        yield GaugeMetricFamily("positionbot_healthy", "1 when /healthz answers 200", value=float(healthy))


class _StateCollector(Collector):
    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics._gauges()


class MetricsServer:
    """The HTTP endpoint on the bot's own event loop: ``await start()``, ``await stop()``."""

    def __init__(self, metrics: BotMetrics, listen: str) -> None:
        self.metrics = metrics
        self.host, self.port = parse_listen(listen)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tests bind an ephemeral port
            server = getattr(site, "_server", None)
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1]) if sockets else 0
        log.info("metrics on http://%s:%d/metrics and /healthz", self.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _refresh(self) -> None:
        try:
            await self.metrics.refresh()
        except Exception as err:  # a closed or busy store must not break the endpoint
            log.warning("metrics: outbox state unavailable: %r", err)
            previous = self.metrics.outbox
            self.metrics.outbox = OutboxState(previous.backlog, previous.oldest_age_s, repr(err))

    async def _metrics(self, _: web.Request) -> web.Response:
        await self._refresh()
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _: web.Request) -> web.Response:
        await self._refresh()
        healthy, verdict = self.metrics.health()
        return web.Response(status=200 if healthy else 503, text=json.dumps(verdict),
                            content_type="application/json")
