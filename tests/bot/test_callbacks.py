"""Callback data: compact, versioned, validated; anything else decodes to None, never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positionbot.bot import callbacks
from positionbot.bot.callbacks import MAX_CALLBACK_BYTES, Action, Callback, decode


def test_builders_round_trip_and_stay_short() -> None:
    samples = {
        callbacks.refresh_positions(): Callback(Action.REFRESH, "pos"),
        callbacks.list_positions(): Callback(Action.LIST, "pos"),
        callbacks.sync("binance-main"): Callback(Action.SYNC, "binance-main"),
        callbacks.sync(None): Callback(Action.SYNC, "*"),
        callbacks.stop_menu(123456789012): Callback(Action.STOP_MENU, "123456789012"),
        callbacks.stop_set("AbCd_-0123456789xyzABC"):
            Callback(Action.STOP_SET, "AbCd_-0123456789xyzABC"),
        callbacks.close(42): Callback(Action.CLOSE, "42"),
    }
    for data, expected in samples.items():
        assert data.startswith("v1|")
        assert len(data.encode()) <= MAX_CALLBACK_BYTES
        assert decode(data) == expected
    assert callbacks.refresh_positions() == "v1|r|pos"


def test_an_account_name_that_cannot_travel_syncs_everything() -> None:
    assert callbacks.sync("x" * 60) == "v1|s|*"
    assert callbacks.sync("a|b") == "v1|s|*"


@pytest.mark.parametrize("data", [
    None, "", "v1", "v2|r|pos", "v1|r|positions", "v1|zz|1", "v1|sl|0", "v1|sl|-1",
    "v1|sl|abc", "v1|ss|7", "v1|ss|7|-5", "v1|ss|7|58000", "v1|ss|7|off",
    "v1|ss|12345678|off", "v1|ss|7|1e5", "v1|c|7|off", "v1|sl|1234567890123",
    "v1|s|" + "a" * 41, "v1|r|pos|x", "v1|ss|7|" + "9" * 60,
])
def test_invalid_or_stale_data_decodes_to_none(data: str | None) -> None:
    assert decode(data) is None


def test_builders_refuse_what_would_not_decode() -> None:
    with pytest.raises(ValueError):
        callbacks.stop_set("7|58000")
    with pytest.raises(ValueError):
        callbacks.stop_menu(0)


@given(st.text(max_size=100))
@settings(max_examples=500)
def test_decode_never_raises_on_arbitrary_text(data: str) -> None:
    result = decode(data)
    if result is not None:
        assert result.encode() == data
        assert len(data.encode()) <= MAX_CALLBACK_BYTES


@given(st.lists(st.sampled_from(["v1", "r", "s", "sl", "ss", "c", "l", "pos", "*", "off",
                                 "7", "0", "58000.5", "", "main", "|"]), max_size=6))
@settings(max_examples=500)
def test_decode_never_raises_on_near_miss_payloads(parts: list[str]) -> None:
    data = "|".join(parts)
    result = decode(data)
    if result is not None:
        assert result.encode() == data
