"""Per-account sync health: failure counting, one alert, one recovery (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from positionbot.tracker.core.models import Notice, NoticeKind, SyncState


def failure_state(
    state: SyncState, at: datetime, error: str, alert_after: int
) -> tuple[SyncState, Notice | None]:
    """Count the failure; the Nth consecutive one raises a single "unreachable" alert."""
    failures = state.consecutive_failures + 1
    new = replace(state, last_attempt_at=at, consecutive_failures=failures, last_error=error)
    if failures < alert_after or state.alerted:
        return new, None
    notice = Notice(
        NoticeKind.EXCHANGE_UNREACHABLE.value, state.account,
        f"{state.account}/unreachable/{at.isoformat()}",
        {"failures": str(failures), "error": error,
         "last_success": state.last_success_at.isoformat() if state.last_success_at else ""},
    )
    return replace(new, alerted=True), notice


def success_state(state: SyncState, at: datetime) -> tuple[SyncState, Notice | None]:
    """Reset the failure count; if an alert is out, pair it with one "recovered" push."""
    new = replace(state, last_attempt_at=at, last_success_at=at, consecutive_failures=0,
                  last_error=None, alerted=False)
    if not state.alerted:
        return new, None
    down_since = state.last_success_at or state.last_attempt_at or at
    notice = Notice(
        NoticeKind.EXCHANGE_RECOVERED.value, state.account,
        f"{state.account}/recovered/{at.isoformat()}",
        {"down_s": str(int((at - down_since).total_seconds()))},
    )
    return new, notice
