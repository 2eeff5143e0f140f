"""Rendering: every push kind, escaping, precision, digests and splitting — all checked by the
same HTML rules the fake Bot API (and Telegram) apply."""

from __future__ import annotations

import typing
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Bot
from telegram.constants import ParseMode

from positionbot.bot import callbacks
from positionbot.bot.render.format import (
    SAFE_MESSAGE_CHARS,
    fmt_duration,
    fmt_money,
    fmt_number,
    split_message,
)
from positionbot.bot.render.notices import NoticeView, notice_summary, render_digest, render_notice
from positionbot.fakes.botapi_rules import MAX_TEXT, ApiError, html_visible_text
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.tracker.core.notices import Notice, TradeNotice
from positionbot.tracker.exchange.paper import default_markets
from tests.support.notices import CLOSED, DECREASED, OPENED, SAMPLES, STOP_FAILED

MARKETS = {m.symbol: m for m in default_markets()}


def view(notice: Notice, owner: int = 1) -> NoticeView:
    symbol = notice.symbol if isinstance(notice, TradeNotice) else ""
    return NoticeView(notice, MARKETS.get(symbol), owner)


def test_every_notice_type_has_a_sample() -> None:
    assert {type(n) for n in SAMPLES} == set(typing.get_args(Notice))


@pytest.mark.parametrize("notice", SAMPLES, ids=lambda n: n.kind.value)
def test_every_kind_renders_valid_html_with_buttons(notice: Notice) -> None:
    rendered = render_notice(view(notice))
    visible = html_visible_text(rendered.text)
    assert rendered.text.splitlines()[0].startswith(("🆕", "➕", "➖", "🏁", "🔄", "🛡", "⚠️",
                                                     "🧹", "✋", "🛑", "🚫", "🔌", "🔗", "🚀", "⏱",
                                                     "⏹", "📅"))
    assert "main" in visible
    assert rendered.keyboard is not None
    for row in rendered.keyboard.inline_keyboard:
        for button in row:
            assert isinstance(button.callback_data, str)
            assert callbacks.decode(button.callback_data) is not None
    assert html_visible_text(notice_summary(view(notice)))


async def test_every_kind_is_accepted_by_the_bot_api(api: FakeBotApi, ptb_bot: Bot) -> None:
    for notice in SAMPLES:
        rendered = render_notice(view(notice))
        await ptb_bot.send_message(1, rendered.text, parse_mode=ParseMode.HTML,
                                   reply_markup=rendered.keyboard)
    assert len(api.messages(1)) == len(SAMPLES)


def test_position_push_shows_the_figures_a_trader_needs() -> None:
    text = render_notice(view(DECREASED)).text
    assert "Size 0.020 → 0.005 @ 61000.1" in text  # BTC: amount step 0.001, tick 0.1
    assert "(est.)" in text
    assert "<b>-12.75 USDT</b>" in text
    assert "SL 58000.0" in text
    assert "bot · main" in text
    closed = html_visible_text(render_notice(view(CLOSED)).text)
    assert "+29.50 USDT" in closed and "(+2.44%)" in closed
    assert "Held 2h 5m" in closed and "closed on the exchange" in closed
    assert "Exit 62000.0" in closed


def test_dynamic_values_are_escaped() -> None:
    evil = "<b>BTC&</b>/USDT"
    rendered = render_notice(view(replace(OPENED, symbol=evil, account="x<y")))
    assert evil not in rendered.text
    assert "&lt;b&gt;BTC&amp;&lt;/b&gt;/USDT" in rendered.text and "x&lt;y" in rendered.text
    html_visible_text(rendered.text)
    failed = render_notice(view(STOP_FAILED)).text
    assert "&lt;-2021&gt;" in failed


def test_numbers_without_a_market_are_normalised_and_garbage_is_shown_escaped() -> None:
    assert fmt_number("60000.1234500") == "60000.12345"
    assert fmt_number("1.123456789123") == "1.12345679"
    assert fmt_number("12<3") == "12&lt;3"
    assert fmt_number("") == "—"
    assert fmt_money("0.000123456789", "BTC") == "+0.00012346 BTC"
    assert fmt_money("-3.005", "USDT") == "-3.01 USDT"
    assert [fmt_duration(v) for v in ("INFINITY", "nan", "1e300", "-5", "59")] == [
        "—", "—", "—", "0s", "59s"]
    unknown_market = NoticeView(replace(OPENED, price=Decimal("1.50000")))
    assert "@ 1.5" in render_notice(unknown_market).text


def test_digest_packs_many_pushes_under_the_limit() -> None:
    views = [view(notice, owner=i) for i, notice in enumerate(SAMPLES * 20)]
    chunks = render_digest(views)
    assert len(chunks) > 1
    assert [o for c in chunks for o in c.owners] == list(range(len(views)))
    for chunk in chunks:
        assert len(chunk.text) <= SAFE_MESSAGE_CHARS
        assert chunk.text.startswith(f"🧾 <b>{len(views)} updates</b>")
        html_visible_text(chunk.text)


@given(st.text(alphabet=st.sampled_from("ab <>&\n"), max_size=9000))
@settings(max_examples=60, deadline=None)
def test_split_message_keeps_every_line_and_the_limit(text: str) -> None:
    parts = split_message(text, 500)
    assert all(len(p) <= 500 for p in parts)
    if all(len(line) <= 500 for line in text.split("\n")) and text.strip():
        assert "\n".join(parts).replace("\n", "") == text.replace("\n", "")


@given(st.sampled_from(SAMPLES), st.text(max_size=600), st.text(max_size=600))
@settings(max_examples=150, deadline=None)
def test_any_text_renders_to_valid_html_under_the_limit(notice: Notice, text: str, account: str
                                                        ) -> None:
    """Every free-text field (symbol, error, reason, job, account) may hold anything."""
    changes = {name: text for name in ("symbol", "error", "reason", "job", "detail")
               if type(getattr(notice, name, None)) is str}  # (not an enum's value)
    notice = replace(notice, account=account, **changes)  # type: ignore[arg-type]
    rendered = render_notice(NoticeView(notice))
    try:
        visible = html_visible_text(rendered.text)
    except ApiError as err:  # pragma: no cover - a failure message for hypothesis
        raise AssertionError(f"{err.description}: {rendered.text!r}") from err
    assert len(visible) <= MAX_TEXT
    html_visible_text(notice_summary(NoticeView(notice)))


def test_decimal_fields_never_go_through_float() -> None:
    price = "60000.000000000000000001"
    text = render_notice(NoticeView(replace(OPENED, price=Decimal(price)))).text
    assert "60000.00000000" not in text  # normalised to at most 8 decimals, not float noise
    assert Decimal(fmt_number(price)) == Decimal("60000")
