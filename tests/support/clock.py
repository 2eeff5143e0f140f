"""The one hand clock: time moves only when a test moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class HandClock:
    """A ``() -> datetime`` clock with an async ``sleep`` that advances it instead of waiting."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        """Seconds since the start: time moved by ``advance`` is time that passed."""
        return (self.now - START).total_seconds()

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
