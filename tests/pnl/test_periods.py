"""Periods follow the trader's local calendar: midnight, Monday and the first of the month in
their time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from positionbot.tracker.core.pnl import (
    ClosedTrade,
    PeriodError,
    PnlEvent,
    daily_series,
    parse_period,
    period_rows,
    periods,
    summarize,
)

BERLIN = ZoneInfo("Europe/Berlin")
D = Decimal


def close_at(at: datetime, net: str, trade_id: int = 1) -> tuple[PnlEvent, ClosedTrade]:
    return (PnlEvent(trade_id, "main", "BTC/USDT:USDT", "closed", at, D(net), D("0.1")),
            ClosedTrade(trade_id, "main", "BTC/USDT:USDT", at, D(net)))


def test_a_close_a_minute_before_local_midnight_is_yesterday_and_one_after_is_today() -> None:
    midnight = datetime(2026, 6, 10, 22, 0, tzinfo=UTC)  # 00:00 in Berlin (CEST, UTC+2)
    before = close_at(midnight - timedelta(minutes=1), "5", 1)
    after = close_at(midnight + timedelta(minutes=1), "-2", 2)
    now = midnight + timedelta(hours=3)
    today = parse_period("today", now, BERLIN)
    assert today.start == midnight
    events, closed = [before[0], after[0]], [before[1], after[1]]
    rows = period_rows(periods("day", 2, now, BERLIN), events, closed)
    assert [(r.period.label, r.net, r.closes) for r in rows] == [
        ("2026-06-11", D("-2"), 1), ("2026-06-10", D("5"), 1)]
    in_utc = period_rows(periods("day", 2, now, ZoneInfo("UTC")), events, closed)
    assert [(r.net, r.closes) for r in in_utc] == [(D(0), 0), (D("3"), 2)]  # both 10 June UTC
    s = summarize([e for e in events if e.at >= today.start], [after[1]])
    assert (s.net, s.closes, s.losses) == (D("-2"), 1, 1)


def test_the_spring_forward_day_has_23_hours_and_the_fall_back_day_25() -> None:
    after_spring = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
    days = periods("day", 3, after_spring, BERLIN)
    spring = days[1]
    assert spring.label == "2026-03-29"
    assert spring.start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # CET midnight
    assert spring.end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # CEST midnight
    assert spring.end - spring.start == timedelta(hours=23)
    after_fall = datetime(2026, 10, 26, 10, 0, tzinfo=UTC)
    fall = periods("day", 2, after_fall, BERLIN)[1]
    assert fall.label == "2026-10-25" and fall.end - fall.start == timedelta(hours=25)
    # 23:30 UTC on the 29th is 01:30 CEST on the 30th: it belongs to the 30th in Berlin.
    e, c = close_at(datetime(2026, 3, 29, 23, 30, tzinfo=UTC), "7")
    rows = period_rows(days, [e], [c])
    assert [r.net for r in rows] == [D("7"), D(0), D(0)]
    series = daily_series(parse_period("3d", after_spring, BERLIN), [e], BERLIN)
    assert [(d.isoformat(), n, cum) for d, n, cum in series] == [
        ("2026-03-28", D(0), D(0)), ("2026-03-29", D(0), D(0)), ("2026-03-30", D(7), D(7))]


def test_weeks_start_on_local_monday_and_months_on_the_first() -> None:
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
    week = parse_period("week", now, BERLIN)
    assert week.start == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # Monday 2 March, 00:00 CET
    month = parse_period("month", now, BERLIN)
    assert month.start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    months = periods("month", 3, now, BERLIN)
    assert [m.label for m in months] == ["2026-03", "2026-02", "2026-01"]
    assert months[1].end == months[0].start and months[2].end == months[1].start
    assert parse_period("all", now, BERLIN).start is None
    assert parse_period("7d", now, BERLIN).start == datetime(2026, 2, 25, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize("spec", ["0d", "yesterday", "99999d", "-3d", ""])
def test_unknown_periods_are_refused_with_the_forms_that_work(spec: str) -> None:
    with pytest.raises(PeriodError, match="today, week, month, all or <N>d"):
        parse_period(spec, datetime(2026, 3, 4, tzinfo=UTC), BERLIN)


def test_summary_parts_and_per_trade_figures() -> None:
    at = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    events = [
        PnlEvent(1, "main", "BTC/USDT:USDT", "closed", at, D("9.9"), D("0.1")),
        PnlEvent(1, "main", "BTC/USDT:USDT", "funding", at, D("-0.05"), D(0)),
        PnlEvent(2, "main", "ETH/USDT:USDT", "closed", at, D("-3.2"), D("0.2")),
    ]
    closed = [ClosedTrade(1, "main", "BTC/USDT:USDT", at, D("9.85")),
              ClosedTrade(2, "main", "ETH/USDT:USDT", at, D("-3.2"))]
    s = summarize(events, closed)
    assert (s.price, s.fees, s.funding, s.net) == (D("7"), D("0.3"), D("-0.05"), D("6.65"))
    assert s.win_rate == D("50.00") and s.avg_win == D("9.85") and s.avg_loss == D("-3.2")
    assert s.best is not None and s.best.trade_id == 1
    assert s.worst is not None and s.worst.trade_id == 2
    assert [(r.symbol, r.net) for r in s.symbols] == [
        ("BTC/USDT:USDT", D("9.85")), ("ETH/USDT:USDT", D("-3.2"))]
