"""The text encodings the database relies on: exact decimals, sortable UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from positionbot.storage import codec

# Hypothesis takes naive bounds and attaches the generated zone itself.
aware_datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23),
                                                max_value=timedelta(hours=23))),
)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_text_round_trips_digit_for_digit(value: Decimal) -> None:
    assert Decimal(codec.dec_text(value)).as_tuple() == value.as_tuple()


@given(aware_datetimes)
def test_datetime_text_round_trips_to_the_same_instant_in_utc(value: datetime) -> None:
    got = codec.opt_dt(codec.dt_text(value))
    assert got == value
    assert got is not None and got.tzinfo is UTC


@given(aware_datetimes, aware_datetimes)
def test_datetime_text_sorts_like_the_instants(a: datetime, b: datetime) -> None:
    """The outbox compares next_attempt_at as text in SQL; that must agree with time order."""
    assert (codec.dt_text(a) < codec.dt_text(b)) == (a < b)
