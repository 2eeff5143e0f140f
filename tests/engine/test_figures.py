"""Refusal texts write numbers the way the chat does: the market's precision, no exponents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.tracker.engine.figures import money, shown

D = Decimal


@pytest.mark.parametrize(("value", "step", "text"), [
    (D("60123.456000000"), D("0.1"), "60123.5"),  # a price at the market's tick
    (D("60000"), D("0.1"), "60000.0"),  # as bot.render shows prices: 58000.0
    (D("0.01"), D("0.001"), "0.010"),  # a size at the amount step, as the pushes show it
    (D("1E-8"), None, "0.00000001"),  # a step read from a float: never "1E-8"
    (D("0.0010"), None, "0.001"),
    (D("2E+1"), None, "20"),
    (D("150"), None, "150"),
    (D("1E+30"), D("0.1"), "1" + "0" * 30),  # too large to round: as it is, no error
])
def test_numbers_are_shown_at_the_markets_precision(value: Decimal, step: Decimal | None,
                                                   text: str) -> None:
    assert shown(value, step) == text


def test_an_order_value_is_cents_and_the_settle_currency() -> None:
    assert money(D("0.005") * D("1") * D("2999.987654"), "USDT") == "15.00 USDT"
    assert money(D("5"), "") == "5.00"
