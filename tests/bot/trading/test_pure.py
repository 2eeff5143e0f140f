"""The pure parts of the trading commands: argument parsing, close sizes, confirmation tokens and
their callback data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positionbot.bot import callbacks
from positionbot.bot.callbacks import MAX_CALLBACK_BYTES, Action, Callback, decode
from positionbot.bot.handlers.confirmations import ClaimStatus, ConfirmationStore
from positionbot.bot.handlers.trading_parse import (
    ClosePortion,
    TradeInputError,
    close_quantity,
    parse_cancel,
    parse_entry,
    parse_portion,
)
from positionbot.tracker.core.models import Side

D = Decimal


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entry_arguments_in_any_order_after_symbol_and_size() -> None:
    req = parse_entry(Side.LONG, ["btc", "0.010", "sl", "-2%", "@", "45000.5"])
    assert (req.query, req.amount, req.price) == ("btc", D("0.010"), D("45000.5"))
    assert req.stop is not None and req.stop.percent == D("2")
    market = parse_entry(Side.SHORT, ["ETH", ".5", "SL", "3200"])
    assert (market.price, market.stop and market.stop.price) == (None, D("3200"))


@given(st.decimals(min_value=D("0.00000001"), max_value=D("1e9"), places=8))
@settings(max_examples=200)
def test_any_plain_positive_size_reads_back_exactly(amount: Decimal) -> None:
    text = format(amount, "f")
    assert parse_entry(Side.LONG, ["BTC", text]).amount == Decimal(text)


@given(st.text(max_size=30))
@settings(max_examples=300)
def test_entry_parsing_never_fails_other_than_clearly(text: str) -> None:
    try:
        req = parse_entry(Side.LONG, ["BTC", *text.split()])
    except TradeInputError as err:
        assert str(err)
    else:
        assert req.amount > 0 and (req.price is None or req.price > 0)


@pytest.mark.parametrize(("text", "portion"), [
    ("all", ClosePortion()), ("100%", ClosePortion()), ("100 %", ClosePortion()),
    ("50%", ClosePortion(percent=D(50))), ("0.004", ClosePortion(amount=D("0.004"))),
])
def test_close_portions(text: str, portion: ClosePortion) -> None:
    assert parse_portion(text) == portion


@pytest.mark.parametrize(("size", "step", "portion", "qty"), [
    ("0.010", "0.001", ClosePortion(), "0.010"),
    ("0.015", "0.001", ClosePortion(percent=D(50)), "0.007"),  # rounds down to the step
    ("0.010", "0.001", ClosePortion(amount=D("0.010")), "0.010"),
    ("3", None, ClosePortion(percent=D(10)), "0.3"),
])
def test_close_quantities(size: str, step: str | None, portion: ClosePortion, qty: str) -> None:
    assert close_quantity(D(size), D(step) if step else None, portion) == D(qty)


def test_cancel_targets() -> None:
    assert parse_cancel("#12").trade_id == 12 and parse_cancel("12").trade_id == 12
    assert parse_cancel("BTC").query == "BTC" and parse_cancel("0").query == "0"


def test_a_token_is_good_once_in_its_chat_for_its_asker() -> None:
    store: ConfirmationStore[str] = ConfirmationStore(clock=Ticks())
    token = store.put("order", chat_id=1, user_id=7)
    assert store.claim(token, 2, 7).status is ClaimStatus.STALE  # another chat
    assert store.claim(token, 1, 8).status is ClaimStatus.NOT_YOURS  # kept for its asker
    claim = store.claim(token, 1, 7)
    assert (claim.status, claim.item) == (ClaimStatus.OK, "order")
    assert store.claim(token, 1, 7).status is ClaimStatus.STALE  # used up
    assert len(store) == 0


def test_tokens_expire_and_the_store_stays_bounded() -> None:
    clock = Ticks()
    store: ConfirmationStore[int] = ConfirmationStore(ttl=120, max_items=3, clock=clock)
    old = store.put(0, 1, 7)
    clock.now = 119.0
    assert store.claim(old, 1, 7).item == 0
    expiring = store.put(1, 1, 7)
    clock.now += 120.0
    assert store.claim(expiring, 1, 7).status is ClaimStatus.STALE
    tokens = [store.put(i, 1, 7) for i in range(5)]
    assert len(store) == 3  # the oldest two were dropped
    assert [store.claim(t, 1, 7).item for t in tokens] == [None, None, 2, 3, 4]


def test_a_token_put_without_a_person_can_be_claimed_by_nobody() -> None:
    store: ConfirmationStore[str] = ConfirmationStore(clock=Ticks())
    token = store.put("order", chat_id=1, user_id=None)
    for user in (7, 8, None):
        claim = store.claim(token, 1, user)
        assert (claim.status, claim.item) == (ClaimStatus.NOT_YOURS, None)


def test_trading_callbacks_round_trip_and_stay_short() -> None:
    store: ConfirmationStore[None] = ConfirmationStore()
    token = store.put(None, 1, None)
    for data, action in ((callbacks.confirm(token), Action.CONFIRM),
                         (callbacks.abort(token), Action.ABORT),
                         (callbacks.pick(token), Action.PICK)):
        assert decode(data) == Callback(action, token)
        assert len(data.encode()) <= MAX_CALLBACK_BYTES
    for bad in ("v1|ok|", "v1|ok|short", "v1|ok|a|b", "v1|ok|" + "A" * 23, "v1|no|ab cd efgh"):
        assert decode(bad) is None
