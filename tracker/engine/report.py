"""What a cycle and a command report back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from positionbot.tracker.core.ledger import AppliedChange
from positionbot.tracker.core.models import Trade


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
