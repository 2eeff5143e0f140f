from decimal import Decimal

from positionbot.tracker.core.classify import Change, classify, confirmed, needs_verification
from positionbot.tracker.core.models import ChangeKind, PositionMode, Side
from tests.core.factories import pos, trade

STEPS = {"BTC/USDT:USDT": Decimal("0.001"), "ETH/USDT:USDT": Decimal("0.01")}
ONE_WAY, HEDGE = PositionMode.ONE_WAY, PositionMode.HEDGE


def kinds(changes: list[Change]) -> list[tuple[str, ChangeKind]]:
    return [(c.key[0], c.kind) for c in changes]


def test_opened_when_no_trade() -> None:
    changes = classify([pos()], [], ONE_WAY, STEPS)
    assert kinds(changes) == [("BTC/USDT:USDT", ChangeKind.OPENED)]
    assert changes[0].trade is None and changes[0].position == pos()


def test_closed_when_position_gone() -> None:
    t = trade()
    changes = classify([], [t], ONE_WAY, STEPS)
    assert kinds(changes) == [("BTC/USDT:USDT", ChangeKind.CLOSED)]
    assert changes[0].trade == t and changes[0].position is None


def test_increased_and_decreased() -> None:
    up = classify([pos(size="1.5")], [trade(size="1")], ONE_WAY, STEPS)
    down = classify([pos(size="0.4")], [trade(size="1")], ONE_WAY, STEPS)
    assert kinds(up) == [("BTC/USDT:USDT", ChangeKind.INCREASED)]
    assert kinds(down) == [("BTC/USDT:USDT", ChangeKind.DECREASED)]


def test_difference_below_one_step_is_not_a_change() -> None:
    assert classify([pos(size="1.0009")], [trade(size="1")], ONE_WAY, STEPS) == []
    assert kinds(classify([pos(size="1.001")], [trade(size="1")], ONE_WAY, STEPS)) == [
        ("BTC/USDT:USDT", ChangeKind.INCREASED)]


def test_unchanged_position_is_no_change() -> None:
    assert classify([pos(size="2", entry="99")], [trade(size="2")], ONE_WAY, STEPS) == []


def test_flipped_in_one_way_mode() -> None:
    changes = classify([pos(side=Side.SHORT, size="0.5")], [trade(size="1")], ONE_WAY, STEPS)
    assert kinds(changes) == [("BTC/USDT:USDT", ChangeKind.FLIPPED)]


def test_hedge_mode_sides_are_separate_positions() -> None:
    long_t = trade(1, side=Side.LONG)
    changes = classify([pos(side=Side.SHORT, size="0.5"), pos(side=Side.LONG, size="1")],
                       [long_t], HEDGE, STEPS)
    assert [(c.key, c.kind) for c in changes] == [
        (("BTC/USDT:USDT", Side.SHORT), ChangeKind.OPENED)]


def test_hedge_mode_never_flips() -> None:
    changes = classify([pos(side=Side.SHORT)], [trade(side=Side.LONG)], HEDGE, STEPS)
    assert sorted(c.kind for c in changes) == [ChangeKind.CLOSED, ChangeKind.OPENED]


def test_duplicate_trades_on_one_key_close_the_extra() -> None:
    changes = classify([pos()], [trade(1), trade(2)], ONE_WAY, STEPS)
    assert [(c.kind, c.trade.id if c.trade else None) for c in changes] == [(ChangeKind.CLOSED, 2)]


def test_many_symbols_each_classified() -> None:
    trades = [trade(1, "BTC/USDT:USDT"), trade(2, "ETH/USDT:USDT", size="3")]
    changes = classify([pos("ETH/USDT:USDT", size="2"), pos("SOL/USDT:USDT")], trades, ONE_WAY, STEPS)
    assert kinds(changes) == [("BTC/USDT:USDT", ChangeKind.CLOSED),
                              ("ETH/USDT:USDT", ChangeKind.DECREASED),
                              ("SOL/USDT:USDT", ChangeKind.OPENED)]


def test_confirmed_keeps_only_changes_in_both_snapshots() -> None:
    t = trade()
    first = classify([], [t], ONE_WAY, STEPS)  # a transient empty list
    second = classify([pos()], [t], ONE_WAY, STEPS)  # the position is there after all
    assert confirmed(first, second) == []
    again = classify([], [t], ONE_WAY, STEPS)
    assert kinds(confirmed(first, again)) == [("BTC/USDT:USDT", ChangeKind.CLOSED)]


def test_confirmed_uses_the_second_snapshots_values() -> None:
    t = trade(size="1")
    first = classify([pos(side=Side.SHORT, size="1")], [t], ONE_WAY, STEPS)
    second = classify([pos(side=Side.SHORT, size="2")], [t], ONE_WAY, STEPS)
    (c,) = confirmed(first, second)
    assert c.position is not None and c.position.size == Decimal("2")


def test_needs_verification_for_closes_flips_and_wholesale_vanishing() -> None:
    t = trade()
    assert needs_verification(classify([], [t], ONE_WAY, STEPS), 1, 0)
    assert needs_verification(classify([pos(side=Side.SHORT)], [t], ONE_WAY, STEPS), 1, 1)
    assert not needs_verification(classify([pos(size="2")], [t], ONE_WAY, STEPS), 1, 1)
    assert not needs_verification(classify([pos()], [], ONE_WAY, STEPS), 0, 1)
    assert needs_verification([], 5, 0)
