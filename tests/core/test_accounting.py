from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from positionbot.tracker.core.accounting import (
    implied_add_price,
    realized_pnl,
    replay_fills,
    weighted_average,
)
from positionbot.tracker.core.models import Fill, OrderSide, Side
from tests.core.factories import fill

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_weighted_average_is_weighted_not_overwritten() -> None:
    assert weighted_average(D("100"), D("1"), D("130"), D("2")) == D("120")
    assert weighted_average(D("0"), D("0"), D("50"), D("3")) == D("50")


def test_realized_pnl_long_and_short_with_contract_size() -> None:
    assert realized_pnl(Side.LONG, D("100"), D("110"), D("2"), D("1")) == D("20")
    assert realized_pnl(Side.SHORT, D("100"), D("110"), D("2"), D("1")) == D("-20")
    assert realized_pnl(Side.SHORT, D("100"), D("90"), D("3"), D("0.01")) == D("0.30")


def test_implied_add_price_recovers_the_fill_price() -> None:
    assert implied_add_price(D("100"), D("1"), D("120"), D("3")) == D("130")


def test_replay_partial_close_prices_exit_and_fees() -> None:
    fills = [fill(SELL, "0.4", "110", fee="0.0176"), fill(SELL, "0.1", "120", fee="0.0048", secs=1)]
    r = replay_fills(Side.LONG, D("1"), D("100"), fills, Side.LONG, D("0.5"), D("1"))
    assert r is not None and r.consumed == 2
    assert r.old.reduced_qty == D("0.5")
    assert r.old.exit_vwap == D("112")
    assert r.old.realized_gross == D("6.0")
    assert r.old.fees == D("0.0224")
    assert r.old.realized_net == D("5.9776")
    assert r.final_avg == D("100") and r.final_size == D("0.5") and r.final_side is Side.LONG


def test_replay_increase_weights_the_average() -> None:
    r = replay_fills(Side.SHORT, D("2"), D("50"), [fill(SELL, "1", "56")], Side.SHORT, D("3"), D("1"))
    assert r is not None and r.final_avg == D("52") and r.old.add_vwap == D("56")


def test_replay_close_to_flat() -> None:
    r = replay_fills(Side.SHORT, D("2"), D("50"), [fill(BUY, "2", "40", fee="0.1")], None, D("0"), D("1"))
    assert r is not None and r.final_side is None
    assert r.old.realized_gross == D("20") and r.old.realized_net == D("19.9")
    assert r.new.added_qty == 0


def test_replay_flip_splits_the_fill_and_its_fee() -> None:
    r = replay_fills(Side.LONG, D("1"), D("100"), [fill(SELL, "3", "90", fee="0.3")],
                     Side.SHORT, D("2"), D("1"))
    assert r is not None
    assert r.old.reduced_qty == D("1") and r.old.realized_gross == D("-10") and r.old.fees == D("0.1")
    assert r.new.added_qty == D("2") and r.new.add_vwap == D("90") and r.new.fees == D("0.2")
    assert r.final_side is Side.SHORT and r.final_avg == D("90")


def test_replay_leaves_fills_after_the_snapshot_for_later() -> None:
    fills = [fill(SELL, "1", "110"), fill(BUY, "1", "120", secs=5)]  # reopened after the snapshot
    r = replay_fills(Side.LONG, D("1"), D("100"), fills, None, D("0"), D("1"))
    assert r is not None and r.consumed == 1 and r.old.realized_gross == D("10")


def test_replay_counts_a_round_trip_between_snapshots() -> None:
    fills = [fill(BUY, "1", "110"), fill(SELL, "1", "115", secs=1), fill(BUY, "1", "120", secs=2)]
    r = replay_fills(Side.LONG, D("1"), D("100"), fills, Side.LONG, D("2"), D("1"))
    assert r is not None and r.consumed == 3
    assert r.old.realized_gross == D("10")  # sold 1 at 115 against an average of 105
    assert r.final_avg == D("112.5")


def test_replay_opened_from_flat_puts_everything_on_the_new_trade() -> None:
    r = replay_fills(None, D("0"), D("0"), [fill(BUY, "1", "10", fee="0.01"), fill(BUY, "1", "20", secs=1)],
                     Side.LONG, D("2"), D("1"))
    assert r is not None and r.old.added_qty == 0
    assert r.new.added_qty == D("2") and r.new.fees == D("0.01") and r.final_avg == D("15")


def test_replay_returns_none_when_fills_do_not_explain_the_change() -> None:
    assert replay_fills(Side.LONG, D("1"), D("100"), [fill(SELL, "0.2", "110")],
                        Side.LONG, D("0.5"), D("1")) is None
    assert replay_fills(Side.LONG, D("1"), D("100"), [], None, D("0"), D("1")) is None


def test_replay_hedge_fills_never_cross_zero_in_practice() -> None:
    r = replay_fills(Side.SHORT, D("1"), D("100"), [fill(BUY, "1", "90", position_side=Side.SHORT)],
                     None, D("0"), D("1"))
    assert r is not None and r.old.realized_gross == D("10")


fill_st = st.builds(
    lambda side, amount, price, fee: (side, amount, price, fee),
    st.sampled_from([BUY, SELL]),
    st.decimals(min_value=D("0.001"), max_value=D("5"), places=3),
    st.decimals(min_value=D("1"), max_value=D("1000"), places=2),
    st.decimals(min_value=D("0"), max_value=D("1"), places=4),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(fill_st, min_size=1, max_size=30), st.sampled_from([D("1"), D("0.01"), D("10")]))
def test_replay_realized_matches_the_cash_flow_identity(
    raw: list[tuple[OrderSide, Decimal, Decimal, Decimal]], cs: Decimal
) -> None:
    """Realized P&L = cash received − cash paid + cost basis still held, for any fill sequence."""
    fills: list[Fill] = [fill(s, str(a), str(p), str(f), secs=i) for i, (s, a, p, f) in enumerate(raw)]
    signed = sum((f.amount if f.side is BUY else -f.amount for f in fills), D(0))
    side = None if signed == 0 else (Side.LONG if signed > 0 else Side.SHORT)
    r = replay_fills(None, D("0"), D("0"), fills, side, abs(signed), cs)
    assert r is not None and r.consumed == len(fills)
    total = r.old.plus(r.new)
    cash = sum((f.price * f.amount * (1 if f.side is SELL else -1) for f in fills), D(0)) * cs
    identity = cash + signed * r.final_avg * cs
    assert abs(total.realized_gross - identity) < D("1e-15")
    assert total.fees == sum((f.fee for f in fills), D(0))
    assert r.final_size == abs(signed) and r.final_side is side
