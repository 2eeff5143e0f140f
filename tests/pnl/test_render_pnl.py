"""P&L replies stay within Telegram's limits however much there is to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from positionbot.bot.render.format import split_message
from positionbot.bot.render.pnl import MAX_SYMBOL_ROWS, render_period_rows, render_pnl
from positionbot.fakes.botapi_rules import MAX_TEXT, html_visible_text, validate_text
from positionbot.tracker.core.pnl import ClosedTrade, PnlEvent, period_rows, periods

D = Decimal
AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_a_per_symbol_table_of_hundreds_of_symbols_fits_one_message() -> None:
    events, closed = [], []
    for i in range(400):
        symbol = f"COIN{i:03d}/USDT:USDT"
        net = D(i - 200) / 7
        events.append(PnlEvent(i + 1, "main", symbol, "closed", AT, net, D("0.1")))
        closed.append(ClosedTrade(i + 1, "main", symbol, AT, net))
    text = render_pnl(events, closed, "this month")
    validate_text(text, "HTML")  # what Telegram checks: valid entities, at most 4096 characters
    assert len(text) <= MAX_TEXT
    shown = [line for line in html_visible_text(text).splitlines() if "/USDT:USDT" in line
             and "closed" in line]
    assert len(shown) == 2 * (MAX_SYMBOL_ROWS // 2)  # the best and the worst
    assert "COIN399/USDT:USDT" in shown[0] and "COIN000/USDT:USDT" in shown[-1]
    assert "more (all of them in /export)" in text


def test_a_long_period_table_is_paged_into_messages_within_the_limit() -> None:
    now = AT
    buckets = periods("day", 90, now, ZoneInfo("UTC"))
    events = [PnlEvent(i, "main", "BTC/USDT:USDT", "closed", now - timedelta(days=i), D("1.5"),
                       D("0.1")) for i in range(90)]
    text = render_period_rows("Daily", period_rows(buckets, events, []), events)
    parts = split_message(text)
    assert len(parts) >= 2
    for part in parts:
        validate_text(part, "HTML")
        assert len(part) <= MAX_TEXT
    assert "Total: <b>+135.00 USDT</b>" in text
