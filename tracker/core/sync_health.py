"""Per-account sync health: failure counting, one alert, one recovery (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from positionbot.tracker.core.models import SyncState
from positionbot.tracker.core.notices import ExchangeRecovered, ExchangeUnreachable


def failure_state(
    state: SyncState, at: datetime, error: str, alert_after: int
) -> tuple[SyncState, ExchangeUnreachable | None]:
    """Count the failure; the Nth consecutive one raises a single "unreachable" alert."""
    failures = state.consecutive_failures + 1
    new = replace(state, last_attempt_at=at, consecutive_failures=failures, last_error=error)
    if failures < alert_after or state.alerted:
        return new, None
    notice = ExchangeUnreachable(
        account=state.account, dedupe_key=f"{state.account}/unreachable/{at.isoformat()}",
        failures=failures, error=error, last_success=state.last_success_at,
    )
    return replace(new, alerted=True), notice


def success_state(state: SyncState, at: datetime) -> tuple[SyncState, ExchangeRecovered | None]:
    """Reset the failure count; if an alert is out, pair it with one "recovered" push."""
    new = replace(state, last_attempt_at=at, last_success_at=at, consecutive_failures=0,
                  last_error=None, alerted=False)
    if not state.alerted:
        return new, None
    down_since = state.last_success_at or state.last_attempt_at or at
    notice = ExchangeRecovered(
        account=state.account, dedupe_key=f"{state.account}/recovered/{at.isoformat()}",
        down_for=at - down_since,
    )
    return new, notice
