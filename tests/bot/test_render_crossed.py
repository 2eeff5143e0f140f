"""A stop not placed because its price is already crossed reads as waiting for the price, in
its own words; a genuine failure still reads as a failure the bot retries."""

from __future__ import annotations

from dataclasses import replace

from positionbot.bot.render.notices import NoticeView, notice_summary, render_notice
from positionbot.fakes.botapi_rules import html_visible_text
from positionbot.tracker.core.notices import Notice, decode, encode
from positionbot.tracker.exchange.paper import default_markets
from tests.support.notices import STOP_FAILED

MARKETS = {m.symbol: m for m in default_markets()}
CROSSED_BY_MARK = replace(STOP_FAILED, crossed_by="mark 3160.25",
                          error="stop 3150.5 is already crossed (mark 3160.25); not placed "
                                "until the price is back on the right side")


def _lines(notice: Notice) -> list[str]:
    return html_visible_text(render_notice(NoticeView(notice, MARKETS["ETH/USDT:USDT"])).text
                             ).splitlines()


def test_a_crossed_stop_is_not_placed_and_waits_for_the_price() -> None:
    assert _lines(CROSSED_BY_MARK) == [
        "⚠️ Stop loss not placed: price already crossed · ETH/USDT:USDT 🔴 SHORT",
        "Stop 3150.50 for 1.500",
        "Mark 3160.25",
        "Your position is unprotected until the price is back on the right side; the stop is "
        "placed then, or change it with /sl.",
        "bot · main"]
    summary = html_visible_text(notice_summary(NoticeView(CROSSED_BY_MARK)))
    assert summary.startswith("⚠️ stop loss not placed: price already crossed · ETH/USDT:USDT")


def test_a_crossed_stop_the_exchange_refused_shows_its_words_escaped() -> None:
    refused = replace(CROSSED_BY_MARK, crossed_by="Binance refused: <would> trigger (-2021)")
    text = render_notice(NoticeView(refused)).text
    assert "Exchange: Binance refused: &lt;would&gt; trigger (-2021)" in text
    assert "Mark" not in text


def test_a_genuine_failure_keeps_the_failure_wording() -> None:
    assert _lines(STOP_FAILED)[:4] == [
        "⚠️ Stop loss failed · ETH/USDT:USDT 🔴 SHORT", "Stop 3150.50 for 1.500",
        "Error: Order would immediately trigger <-2021>", "The bot retries on the next sync."]


def test_an_outbox_row_stored_before_the_field_still_decodes_as_a_failure() -> None:
    kind, fields = encode(STOP_FAILED)
    old_row = fields.replace(',"crossed_by":""', "")
    assert "crossed_by" not in old_row
    assert decode(kind, "main", "k", old_row) == replace(STOP_FAILED, dedupe_key="k")
    kind, fields = encode(CROSSED_BY_MARK)
    assert decode(kind, "main", "k", fields) == replace(CROSSED_BY_MARK, dedupe_key="k")
