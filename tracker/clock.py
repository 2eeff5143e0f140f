"""Time in one place: timezone-aware UTC, injectable for tests."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
