"""The tracker's settings and the report every cycle returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.funding import FundingSettings
from positionbot.tracker.core.ledger import AppliedChange
from positionbot.tracker.core.models import Trade


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    verify_delay: float = 2.0  # seconds between the two fetches that confirm a close or flip
    pending_timeout: timedelta = timedelta(minutes=60)
    alert_after_failures: int = 3
    dust: DustPolicy = field(default_factory=DustPolicy)
    cycle_timeout: float = 60.0
    max_fill_symbols: int = 50  # fill fetches per cycle; changes beyond it are estimated
    funding: FundingSettings = field(default_factory=FundingSettings)


@dataclass(frozen=True, slots=True)
class CycleReport:
    account: str
    started_at: datetime
    duration_s: float
    ok: bool
    positions: int
    changes: tuple[AppliedChange, ...] = ()
    actions: tuple[str, ...] = ()
    exchange_calls: int = 0
    errors: tuple[str, ...] = ()
    verified: bool = False
    local_s: float = 0.0  # time spent outside exchange calls (classification, accounting, DB)
    error_kind: str | None = None  # why a failed cycle failed: timeout, transient, permanent, ...

    def summary(self) -> str:
        """The one log line per cycle that makes a silent loop visible."""
        state = "ok" if self.ok else "FAILED"
        return (
            f"cycle {self.account} {state}: positions={self.positions} changes={len(self.changes)} "
            f"actions={len(self.actions)} calls={self.exchange_calls} "
            f"duration={self.duration_s * 1000:.0f}ms local={self.local_s * 1000:.1f}ms"
            + (f" errors={'; '.join(self.errors)}" if self.errors else "")
        )


@dataclass(frozen=True, slots=True)
class StopLossResult:
    trade: Trade
    placed: bool
    order_id: str | None
    message: str


@dataclass(frozen=True, slots=True)
class EntryMismatch:
    """Our weighted average differs from the exchange's own entry beyond one tick."""

    trade_id: int
    symbol: str
    ours: Decimal
    exchange: Decimal
