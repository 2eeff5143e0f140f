"""The daily report: at ``telegram.daily_report`` local time, the day's P&L and the open
positions' unrealized P&L, queued in the outbox as a ``daily_report`` notice (so each chat's
on/silent/off applies, and a restart never sends one day's report twice)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from positionbot.bot.render.format import settle_of
from positionbot.bot.render.listing import unrealized
from positionbot.storage.reports import Scope, closed_trades, pnl_events
from positionbot.storage.store import Store
from positionbot.tracker.core.models import ZERO
from positionbot.tracker.core.notices import DailyReport
from positionbot.tracker.core.pnl import parse_period, summarize
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.runner import SimplePositionTracker

log = logging.getLogger(__name__)


async def daily_report(tracker: SimplePositionTracker, store: Store, tz: ZoneInfo,
                       now: datetime) -> DailyReport | None:
    """The report of the local day ``now`` falls in (None when there are no accounts)."""
    if not tracker.accounts:
        return None
    period = parse_period("today", now, tz)
    scope = Scope(period)
    events = await pnl_events(store, scope)
    closed = await closed_trades(store, scope)
    currency = _main_currency([e.symbol for e in events]
                              + [t.symbol for t in tracker.book.active_trades()])
    s = summarize([e for e in events if settle_of(e.symbol, None) == currency],
                  [t for t in closed if settle_of(t.symbol, None) == currency])
    open_pnl, positions = ZERO, 0
    for trade in tracker.book.active_trades():
        if not trade.is_open or settle_of(trade.symbol, None) != currency:
            continue
        positions += 1
        figures = unrealized(trade, tracker.book.position_for(trade))
        if figures is not None:
            open_pnl += figures[0]
    day = now.astimezone(tz).date().isoformat()
    account = tracker.accounts[0]
    return DailyReport(
        account=account, dedupe_key=f"daily_report/{day}", day=day, currency=currency,
        net=s.net, price=s.price, fees=s.fees, funding=s.funding, closes=s.closes, wins=s.wins,
        open_positions=positions, unrealized=open_pnl,
    )


def _main_currency(symbols: list[str]) -> str:
    counts: dict[str, int] = {}
    for symbol in symbols:
        ccy = settle_of(symbol, None)
        counts[ccy] = counts.get(ccy, 0) + 1
    return max(counts, key=lambda c: counts[c]) if counts else "USDT"


def report_job(tracker: SimplePositionTracker, store: Store, tz: ZoneInfo,
               clock: Callable[[], datetime]) -> Callable[[], Coroutine[Any, Any, None]]:
    """What the scheduler runs at the configured time: build the report and queue it."""

    async def run() -> None:
        report = await daily_report(tracker, store, tz, clock())
        if report is None:
            return
        await store.commit(WriteBatch(report.account, notices=[report]))
        log.info("daily report for %s queued (net %s %s)", report.day, report.net,
                 report.currency)

    return run

