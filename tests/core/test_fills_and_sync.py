from datetime import timedelta

from positionbot.tracker.core.fills import FillCursor, advance, cursor_key, for_side, unconsumed
from positionbot.tracker.core.models import NoticeKind, OrderSide, PositionMode, Side, SyncState
from positionbot.tracker.core.notices import ExchangeRecovered
from positionbot.tracker.core.sync_health import failure_state, success_state
from tests.core.factories import T0, fill

BUY = OrderSide.BUY


def test_unconsumed_skips_fills_before_and_at_the_cursor() -> None:
    a, b, c = fill(BUY, "1", "1", id="a"), fill(BUY, "1", "1", id="b"), fill(BUY, "1", "1", secs=1, id="c")
    cursor = FillCursor(T0, ("a",))
    assert [f.id for f in unconsumed([c, a, b], cursor)] == ["b", "c"]
    assert [f.id for f in unconsumed([c, a, b], None)] == ["a", "b", "c"]


def test_advance_accumulates_ids_at_the_same_timestamp() -> None:
    a, b = fill(BUY, "1", "1", id="a"), fill(BUY, "1", "1", id="b")
    first = advance(None, [a])
    assert first == FillCursor(T0, ("a",))
    assert advance(first, [b]) == FillCursor(T0, ("a", "b"))
    assert advance(first, []) is first
    later = fill(BUY, "1", "1", secs=3, id="z")
    assert advance(first, [b, later]) == FillCursor(T0 + timedelta(seconds=3), ("z",))


def test_for_side_filters_only_in_hedge_mode() -> None:
    fl = [fill(BUY, "1", "1", position_side=Side.LONG), fill(BUY, "1", "1", position_side=Side.SHORT)]
    assert len(for_side(fl, Side.LONG, PositionMode.ONE_WAY)) == 2
    assert [f.position_side for f in for_side(fl, Side.LONG, PositionMode.HEDGE)] == [Side.LONG]
    assert cursor_key("X", Side.LONG, PositionMode.HEDGE) == "X#long"
    assert cursor_key("X", Side.LONG, PositionMode.ONE_WAY) == "X"


def test_one_alert_after_n_failures_and_one_recovery() -> None:
    state = SyncState("a", last_success_at=T0)
    notices = []
    for i in range(5):
        state, n = failure_state(state, T0 + timedelta(minutes=i + 1), "boom", 3)
        notices.append(n)
    assert [n is not None for n in notices] == [False, False, True, False, False]
    assert notices[2] is not None and notices[2].kind == NoticeKind.EXCHANGE_UNREACHABLE
    assert state.consecutive_failures == 5 and state.alerted and state.last_error == "boom"
    state, rec = success_state(state, T0 + timedelta(minutes=10))
    assert isinstance(rec, ExchangeRecovered) and rec.down_for == timedelta(minutes=10)
    assert state.consecutive_failures == 0 and not state.alerted
    state, again = success_state(state, T0 + timedelta(minutes=11))
    assert again is None


def test_failures_below_threshold_never_alert_and_reset_on_success() -> None:
    state, n1 = failure_state(SyncState("a"), T0, "x", 3)
    state, n2 = failure_state(state, T0, "x", 3)
    state, rec = success_state(state, T0)
    assert (n1, n2, rec) == (None, None, None) and state.consecutive_failures == 0
