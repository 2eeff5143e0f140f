"""The tracker's settings: cycle timing, alerting, dust and funding policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.funding import FundingSettings


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    verify_delay: float = 2.0  # seconds between the two fetches that confirm a close or flip
    pending_timeout: timedelta = timedelta(minutes=60)
    alert_after_failures: int = 3
    dust: DustPolicy = field(default_factory=DustPolicy)
    cycle_timeout: float = 60.0
    max_fill_symbols: int = 50  # fill fetches per cycle; changes beyond it are estimated
    funding: FundingSettings = field(default_factory=FundingSettings)
